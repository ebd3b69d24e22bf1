#include "evaluator.h"

#include <chrono>
#include <cstdio>

#include "measure.h"

namespace landscape::engine {

using core::Result;
using core::Status;
using core::StatusCode;


void PointEvaluator::DecideOptimization() {
  // A frozen graph per point pays when its faster passes outweigh the freezing:
  //   freeze + batches * t_frozen < batches * t_plain.
  // Measured here on the first batch; small models on small data often lose.
  if (batches_.empty() || batches_.front().empty()) return;
  const at::Tensor& x = batches_.front().front().first;
  const auto t0 = std::chrono::steady_clock::now();
  torch::jit::Module& frozen = ForwardModule();
  const double t_freeze = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!optimize_) return;  // could not be frozen
  const double t_frozen = TimeForward(frozen, x);
  const double t_plain = TimeForward(module_, x);
  int64_t n_batches = 0;
  for (const auto& b : batches_) n_batches += static_cast<int64_t>(b.size());
  const double with = t_freeze + static_cast<double>(n_batches) * t_frozen;
  const double without = static_cast<double>(n_batches) * t_plain;
  batch_seconds_ = std::min(with, without) / static_cast<double>(n_batches);
  if (with >= without) {
    optimize_ = false;
    lanes_measured_.reset();  // measured on the frozen graph: measure again on the path taken
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "off: a frozen graph per point would cost %.1f ms against %.1f ms for the model as loaded",
                  1e3 * with, 1e3 * without);
    optimize_failure_ = buf;
  }
}

torch::jit::Module& PointEvaluator::ForwardModule() {
  const bool convert = dtype_ != at::kFloat;
  if (!optimize_ && !convert) return module_;
  // A copy of the module with the current (aliased) weights: converted to the
  // compute dtype, then frozen (weights baked in as constants) and optimized.
  torch::jit::Module base = module_;
  if (convert) {
    // The point's float32 weights, converted into the reduced-precision copy.
    c10::InferenceMode guard;
    for (size_t i = 0; i < targets_.size(); ++i) targets_[i].copy_(sources_[i]);
    base = reduced_;
  }
  if (optimize_) {
    try {
      torch::jit::Module frozen = torch::jit::freeze(base);
      frozen_ = torch::jit::optimize_for_inference(frozen);
      return frozen_;
    } catch (const std::exception& e) {
      optimize_ = false;
      optimize_failure_ = FirstLine(e);
    }
  }
  frozen_ = base;
  return frozen_;
}

torch::jit::Module PointEvaluator::FrozenPoint() {
  if (dtype_ == at::kFloat) return torch::jit::freeze(module_);
  {
    // The point's float32 weights, converted into the reduced-precision copy (as ForwardModule does).
    c10::InferenceMode guard;
    for (size_t i = 0; i < targets_.size(); ++i) targets_[i].copy_(sources_[i]);
  }
  return torch::jit::freeze(reduced_);
}

}  // namespace landscape::engine
