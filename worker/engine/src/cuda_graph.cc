#include "cuda_graph.h"

#include <exception>
#include <string>

#if LANDSCAPE_WITH_CUDA_GRAPHS
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace landscape::engine {

using core::Result;
using core::Status;
using core::StatusCode;

#if LANDSCAPE_WITH_CUDA_GRAPHS

struct CapturedWork::Impl {
  at::cuda::CUDAGraph graph;
  int device = 0;
};

bool CudaGraphsBuilt() { return true; }

Result<std::unique_ptr<CapturedWork>> CapturedWork::Capture(int device_index, const std::function<void()>& work,
                                                            int warmups) {
  auto impl = std::make_unique<Impl>();
  impl->device = device_index;
  try {
    c10::cuda::CUDAGuard device_guard(static_cast<c10::DeviceIndex>(device_index));
    // Capture needs a stream other than the legacy default one; warm up on it too, after the work
    // already queued on the current stream (the inputs' copies).
    c10::cuda::getCurrentCUDAStream().synchronize();
    c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device_guard.current_device().index());
    {
      c10::cuda::CUDAStreamGuard stream_guard(side);
      for (int i = 0; i < warmups; ++i) work();
      side.synchronize();
      impl->graph.capture_begin();
      try {
        work();
      } catch (...) {
        try {
          impl->graph.capture_end();
        } catch (...) {
        }
        throw;
      }
      impl->graph.capture_end();
      side.synchronize();
    }
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    return Status(StatusCode::kInternal, "cannot capture a CUDA graph: " + what);
  }
  return std::unique_ptr<CapturedWork>(new CapturedWork(std::move(impl)));
}

void CapturedWork::Replay() {
  c10::cuda::CUDAGuard device_guard(static_cast<c10::DeviceIndex>(impl_->device));
  impl_->graph.replay();
}

#else  // no CUDA graphs in this build

struct CapturedWork::Impl {};

bool CudaGraphsBuilt() { return false; }

Result<std::unique_ptr<CapturedWork>> CapturedWork::Capture(int, const std::function<void()>&, int) {
  return Status(StatusCode::kUnimplemented, "this build has no CUDA graphs (it needs a CUDA LibTorch)");
}

void CapturedWork::Replay() {}

#endif

CapturedWork::CapturedWork(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CapturedWork::~CapturedWork() = default;

}  // namespace landscape::engine
