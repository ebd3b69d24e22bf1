#include "evaluator.h"

#include <ATen/Context.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "measure.h"

namespace landscape::engine {

using core::Result;
using core::Status;
using core::StatusCode;

void PointEvaluator::DecideCudaGraphs(const EvalOptions& options) {
  auto off = [&](const std::string& why) { graphs_note_ = "off: " + why; };
  if (options.cuda_graphs == EvalOptions::Choice::kOff) return off("--cuda-graphs off");
  if (!device_.is_cuda() && options.cuda_graphs == EvalOptions::Choice::kAuto) return;  // nothing to say on CPUs
  if (onednn_) return off("points run on the engine's own oneDNN primitives");
  if (!options.optimize) return off("--no-optimize");
  // Freezing turned off because it measured slower than it saves still leaves the fitted graph (it
  // freezes once); a model that cannot be frozen does not.
  if (!optimize_ && optimize_failure_.rfind("off:", 0) != 0) return off("the model cannot be frozen");
  if (batches_.empty() || batches_.front().empty()) return off("no data");
  const bool graph_optimize = dtype_ == at::kFloat && torch::jit::getGraphExecutorOptimize();
  // Restored if anything fails after the fitted graph took over: points go back to the path chosen before.
  const bool optimize_before = optimize_;
  const std::string optimize_failure_before = optimize_failure_;
  try {
    std::string note;
    auto fitted = FitConstants(graph_optimize, note);
    if (!fitted.ok()) return off(fitted.status().message());
    basis_ = std::move(*fitted);
    optimize_ = true;
    optimize_failure_.clear();

    if (!device_.is_cuda()) {
      graphs_note_ = note + "; no CUDA graphs on CPUs";
      return;
    }
    graphs_note_ = note + CaptureSplits(graph_optimize);
  } catch (const std::exception& e) {
    captured_.clear();
    graph_loss_.clear();
    graph_correct_.clear();
    basis_.reset();
    optimize_ = optimize_before;
    optimize_failure_ = optimize_failure_before;
    return off(FirstLine(e));
  }
}

Result<std::unique_ptr<FrozenBasis>> PointEvaluator::FitConstants(bool graph_optimize, std::string& note) {
  // The fit: float32 freezes of the model, optimized as points would be on this device (on CPUs
  // optimize_for_inference packs weights into opaque oneDNN objects, which cannot be rewritten). In
  // reduced precision the graph that runs is the reduced copy's, frozen and optimized as per-point
  // freezing would (the optimizations differ by dtype), its constants from the float32 fit.
  const bool reduced = dtype_ != at::kFloat;
  auto optimized = [this](torch::jit::Module frozen) {
    return device_.is_cuda() ? torch::jit::optimize_for_inference(frozen) : frozen;
  };
  auto freeze_at = [&](double alpha, double beta) {
    SetPoint(alpha, beta);
    return optimized(torch::jit::freeze(module_));
  };
  FrozenBasis::FreezeAt running_at;
  if (reduced) {
    running_at = [&](double alpha, double beta) {
      SetPoint(alpha, beta);
      {
        c10::InferenceMode guard;
        for (size_t i = 0; i < targets_.size(); ++i) targets_[i].copy_(sources_[i]);
      }
      return optimized(torch::jit::freeze(reduced_));
    };
  }
  FrozenBasis::Options bo;
  bo.dtype = dtype_;
  bo.channels_last = channels_last_;
  auto fitted = FrozenBasis::Create(freeze_at, two_d_, bo, running_at);
  if (!fitted.ok()) return fitted.status();
  FrozenBasis& basis = **fitted;

  // Agreement at the check point with a float32 freeze there (the truth), on the first batch, after the
  // graph executor's warm-up runs (its optimized plan is what points run). In reduced precision the
  // fitted graph must be no further from it than per-point freezing in that precision is.
  // (Freezing runs outside inference mode, as Evaluate's does: frozen under it, a reduced-precision
  // copy of the model could not be frozen again.)
  const at::Tensor& x0 = batches_.front().front().first;
  const at::Tensor x32 = reduced ? splits_.front().data.images.narrow(0, 0, x0.size(0)) : x0;
  torch::jit::Module truth_model = freeze_at(basis.check_alpha(), basis.check_beta());
  torch::jit::Module theirs_model = reduced ? ForwardModule() : truth_model;
  c10::InferenceMode guard;
  at::Tensor truth, theirs, ours;
  {
    torch::jit::GraphOptimizerEnabledGuard optimizer(torch::jit::getGraphExecutorOptimize());
    truth = truth_model.forward({x32}).toTensor().to(at::kFloat);
  }
  {
    torch::jit::GraphOptimizerEnabledGuard optimizer(graph_optimize);
    if (reduced) theirs = theirs_model.forward({x0}).toTensor().to(at::kFloat);
    torch::jit::Method forward = basis.module().get_method("forward");
    for (int i = 0; i < 3; ++i) ours = forward({x0}).toTensor();
    ours = ours.to(at::kFloat);
  }
  const double scale = std::max(1e-6, truth.abs().max().item<double>());
  auto error = [&](const at::Tensor& t) {
    return t.sizes() == truth.sizes() ? (t - truth).abs().max().item<double>() / scale : 1e300;
  };
  const double ours_error = error(ours);
  // float32 convolutions on CUDA run in TF32 by default (cuDNN; 10-bit mantissa, unit roundoff 2^-11):
  // the fitted graph's channels-last kernels round differently from the freeze's (an H100 measured 5.4e-4).
  const bool tf32 = device_.is_cuda() && at::globalContext().allowTF32CuDNN();
  const double fp32_allowed = tf32 ? 8.0 / 2048.0 : 1e-4;
  const double allowed = dtype_ == at::kFloat ? fp32_allowed : std::max(1e-4, 1.5 * error(theirs));
  char buf[300];
  if (!(ours_error <= allowed)) {
    std::snprintf(buf, sizeof buf, "the fitted graph's outputs differ from a freeze's by %.2g of their scale "
                  "(allowed %.2g)", ours_error, allowed);
    return Status(StatusCode::kFailedPrecondition, buf);
  }
  std::snprintf(buf, sizeof buf, "one frozen graph, %s; outputs within %.1g of a float32 freeze",
                basis.description().c_str(), ours_error);
  note = buf;
  return std::move(*fitted);
}

std::string PointEvaluator::CaptureSplits(bool graph_optimize) {
  // Each split's batches, loss and accuracy sums captured as one CUDA graph over the fitted graph.
  c10::InferenceMode guard;
  torch::jit::GraphOptimizerEnabledGuard optimizer(graph_optimize);
  const BatchForward forward = OnModule(basis_->module());
  const auto acc_opts = at::TensorOptions().device(device_);
  std::vector<std::unique_ptr<CapturedWork>> captured;
  for (size_t s = 0; s < splits_.size(); ++s) {
    graph_loss_.push_back(at::zeros({}, acc_opts.dtype(at::kDouble)));
    graph_correct_.push_back(at::zeros({}, acc_opts.dtype(at::kLong)));
    auto work = [this, s, &forward] {
      graph_loss_[s].zero_();
      graph_correct_[s].zero_();
      AccumulateBatches(forward, 0, s, 0, batches_[s].size(), 1, 0.0, 0.0, graph_loss_[s], graph_correct_[s]);
    };
    auto c = CapturedWork::Capture(device_.index(), work);
    if (!c.ok()) {
      graph_loss_.clear();
      graph_correct_.clear();
      return "; " + c.status().message();
    }
    captured.push_back(std::move(*c));
  }
  // A replay at another point must see that point's constants: against the same kernels launched one by
  // one (the split's losses agree to the device's summation order).
  SetPoint(-0.25, two_d_ ? 0.5 : 0.0);
  captured.front()->Replay();
  const double replayed = graph_loss_.front().item<double>();
  at::Tensor l = at::zeros({}, acc_opts.dtype(at::kDouble)), c = at::zeros({}, acc_opts.dtype(at::kLong));
  AccumulateBatches(forward, 0, 0, 0, batches_.front().size(), 1, 0.0, 0.0, l, c);
  const double direct = l.item<double>();
  if (!(std::fabs(replayed - direct) <= 1e-5 * std::max(1.0, std::fabs(direct)))) {
    graph_loss_.clear();
    graph_correct_.clear();
    char buf[300];
    std::snprintf(buf, sizeof buf, "; no CUDA graphs: a replay's loss sum %.9g differs from the direct run's %.9g",
                  replayed, direct);
    return buf;
  }
  captured_ = std::move(captured);
  return "; each split replayed as one CUDA graph";
}

}  // namespace landscape::engine
