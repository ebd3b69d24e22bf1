// Timing helpers of the path selector's measured choices (path_selector.h): noise on a shared machine only ever
// slows a run down, so each measurement keeps the fastest of a few runs.
#pragma once

#include <torch/script.h>

#include <algorithm>
#include <chrono>

namespace landscape::engine {

// Seconds of the fastest of `runs` calls of `f` after `warmups` untimed ones
// (machine noise only ever slows a run down). `f` must wait for the device.
template <typename F>
inline double BestSeconds(int warmups, int runs, F&& f) {
  for (int w = 0; w < warmups; ++w) f();
  double best = 1e300;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

// Seconds of one forward pass of `m` on `x`.
inline double TimeForward(torch::jit::Module& m, const at::Tensor& x) {
  c10::InferenceMode guard;
  return BestSeconds(2, 3, [&] { (void)m.forward({x}).toTensor().sum().item<float>(); });
}

}  // namespace landscape::engine
