// CapturedWork: the kernels a piece of device work launches, captured once into a CUDA graph and replayed.
//
// A split of a grid point is ~170 kernels per batch (ResNet-56) launched by TorchScript's interpreter and
// LibTorch's dispatcher, ≈ 10 µs of CPU each; replaying them as one graph costs one launch. The work must
// be replayable: the same kernels on the same memory every time, no host synchronization, every tensor
// it reads or writes allocated before the capture (and kept alive while this object lives) or inside it
// (then from the graph's private memory pool). Values that change between replays (a point's weights)
// must be written in place into the memory the kernels read (FrozenBasis does).
//
// Built with a CUDA LibTorch only (LANDSCAPE_WITH_CUDA_GRAPHS); elsewhere Capture says Unimplemented.
#pragma once

#include <functional>
#include <memory>

#include "landscape/core/status.h"

namespace landscape::engine {

/// Whether this build can capture CUDA graphs (a CUDA LibTorch with ATen's CUDA headers).
bool CudaGraphsBuilt();

class CapturedWork {
 public:
  /// Runs `work` `warmups` times on a side stream of CUDA device `device_index` (the graph executor
  /// profiles and optimizes, cuDNN picks its algorithms, the allocator warms up), then captures one more
  /// run. Replay then re-issues the same kernels. `work` must launch device work only.
  static core::Result<std::unique_ptr<CapturedWork>> Capture(int device_index, const std::function<void()>& work,
                                                             int warmups = 3);
  ~CapturedWork();
  CapturedWork(const CapturedWork&) = delete;
  CapturedWork& operator=(const CapturedWork&) = delete;

  /// Enqueues the captured kernels on the device's current stream (asynchronous).
  void Replay();

  struct Impl;

 private:
  explicit CapturedWork(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace landscape::engine
