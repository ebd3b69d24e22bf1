// The "fitted" path: one frozen graph for every point, its constants set per point from a quadratic fit
// (frozen_basis.h) instead of freezing again; on CUDA ("cuda_graphs") each split's batches replay as one
// captured CUDA graph (cuda_graph.h). And the selector's step that fits it when the options allow and
// the values agree with per-point freezing.
#include <ATen/Context.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cuda_graph.h"
#include "frozen_basis.h"
#include "path_selector.h"

namespace landscape::engine {

using core::Result;
using core::Status;
using core::StatusCode;

namespace {

class FittedPath : public BatchForwardPath {
 public:
  FittedPath(EvalState& state, std::unique_ptr<FrozenBasis> basis)
      : BatchForwardPath(state), basis_(std::move(basis)) {
    forward_.Use(basis_->module());
  }
  std::string name() const override { return captured_.empty() ? "fitted" : "cuda_graphs"; }
  void SetPoint(double alpha, double beta) override { basis_->Set(alpha, beta); }
  at::Tensor Forward(const at::Tensor& x, size_t /*lane*/) override { return forward_(x); }
  bool ReplaySplit(size_t s, at::Tensor& loss_sum, at::Tensor& correct) override {
    if (s >= captured_.size()) return false;
    captured_[s]->Replay();  // the split's batches as captured over the fitted graph
    loss_sum = graph_loss_[s];
    correct = graph_correct_[s];
    return true;
  }
  bool captured() const { return !captured_.empty(); }
  // Captures each split's batches as a CUDA graph (when a replay agrees with a direct run); returns the
  // note's tail saying what happened.
  std::string CaptureSplits(bool graph_optimize);

 private:
  std::unique_ptr<FrozenBasis> basis_;
  ModuleForward forward_;
  // Per split: the captured work's accumulators, and the work (declared last: destroyed before the
  // tensors its kernels use).
  std::vector<at::Tensor> graph_loss_, graph_correct_;
  std::vector<std::unique_ptr<CapturedWork>> captured_;
};

std::string FittedPath::CaptureSplits(bool graph_optimize) {
  // Each split's batches, loss and accuracy sums captured as one CUDA graph over the fitted graph.
  c10::InferenceMode guard;
  torch::jit::GraphOptimizerEnabledGuard optimizer(graph_optimize);
  const auto acc_opts = at::TensorOptions().device(state_.device);
  std::vector<std::unique_ptr<CapturedWork>> captured;
  for (size_t s = 0; s < state_.splits.size(); ++s) {
    graph_loss_.push_back(at::zeros({}, acc_opts.dtype(at::kDouble)));
    graph_correct_.push_back(at::zeros({}, acc_opts.dtype(at::kLong)));
    auto work = [this, s] {
      graph_loss_[s].zero_();
      graph_correct_[s].zero_();
      AccumulateBatches(0, s, 0, state_.batches[s].size(), 1, 0.0, 0.0, graph_loss_[s], graph_correct_[s]);
    };
    auto c = CapturedWork::Capture(state_.device.index(), work);
    if (!c.ok()) {
      graph_loss_.clear();
      graph_correct_.clear();
      return "; " + c.status().message();
    }
    captured.push_back(std::move(*c));
  }
  // A replay at another point must see that point's constants: against the same kernels launched one by
  // one (the split's losses agree to the device's summation order).
  const double alpha = -0.25, beta = state_.two_d ? 0.5 : 0.0;
  state_.weights.Set(alpha, beta);
  SetPoint(alpha, beta);
  captured.front()->Replay();
  const double replayed = graph_loss_.front().item<double>();
  at::Tensor l = at::zeros({}, acc_opts.dtype(at::kDouble)), c = at::zeros({}, acc_opts.dtype(at::kLong));
  AccumulateBatches(0, 0, 0, state_.batches.front().size(), 1, 0.0, 0.0, l, c);
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

// The largest relative error of the fitted graph allowed against a float32 freeze ("truth"); `theirs`:
// per-point freezing's output in the compute dtype (reduced precision only).
double AllowedError(const EvalState& st, const at::Tensor& truth, const at::Tensor& theirs) {
  const double scale = std::max(1e-6, truth.abs().max().item<double>());
  // float32 convolutions on CUDA run in TF32 by default (cuDNN; 10-bit mantissa, unit roundoff 2^-11):
  // the fitted graph's channels-last kernels round differently from the freeze's (an H100 measured 5.4e-4).
  const bool tf32 = st.device.is_cuda() && at::globalContext().allowTF32CuDNN();
  const double fp32_allowed = tf32 ? 8.0 / 2048.0 : 1e-4;
  if (st.dtype == at::kFloat) return fp32_allowed;
  const double theirs_error =
      theirs.sizes() == truth.sizes() ? (theirs - truth).abs().max().item<double>() / scale : 1e300;
  return std::max(1e-4, 1.5 * theirs_error);
}

// The fitted frozen graph, checked against a float32 freeze at its check point (`note`: what it is); an
// error's message says why it is not used.
Result<std::unique_ptr<FrozenBasis>> FitConstants(Selecting& s, bool graph_optimize, std::string& note) {
  // The fit: float32 freezes of the model, optimized as points would be on this device (on CPUs
  // optimize_for_inference packs weights into opaque oneDNN objects, which cannot be rewritten). In
  // reduced precision the graph that runs is the reduced copy's, frozen and optimized as per-point
  // freezing would (the optimizations differ by dtype), its constants from the float32 fit.
  EvalState& st = s.state;
  const bool reduced = st.dtype != at::kFloat;
  auto optimized = [&st](torch::jit::Module frozen) {
    return st.device.is_cuda() ? torch::jit::optimize_for_inference(frozen) : frozen;
  };
  auto freeze_at = [&](double alpha, double beta) {
    st.weights.Set(alpha, beta);
    return optimized(torch::jit::freeze(st.module));
  };
  FrozenBasis::FreezeAt running_at;
  if (reduced) {
    running_at = [&](double alpha, double beta) {
      st.weights.Set(alpha, beta);
      st.RefreshReduced();
      return optimized(torch::jit::freeze(st.reduced));
    };
  }
  FrozenBasis::Options bo;
  bo.dtype = st.dtype;
  bo.channels_last = st.channels_last;
  auto fitted = FrozenBasis::Create(freeze_at, st.two_d, bo, running_at);
  if (!fitted.ok()) return fitted.status();
  FrozenBasis& basis = **fitted;

  // Agreement at the check point with a float32 freeze there (the truth), on the first batch, after the
  // graph executor's warm-up runs (its optimized plan is what points run). In reduced precision the
  // fitted graph must be no further from it than per-point freezing in that precision is.
  // (Freezing runs outside inference mode, as Evaluate's does: frozen under it, a reduced-precision
  // copy of the model could not be frozen again.)
  const at::Tensor& x0 = st.batches.front().front().first;
  const at::Tensor x32 = reduced ? st.splits.front().data.images.narrow(0, 0, x0.size(0)) : x0;
  torch::jit::Module truth_model = freeze_at(basis.check_alpha(), basis.check_beta());
  BatchForwardPath* theirs_path = reduced ? &s.PrepareLibTorch() : nullptr;
  c10::InferenceMode guard;
  at::Tensor truth, theirs, ours;
  {
    torch::jit::GraphOptimizerEnabledGuard optimizer(torch::jit::getGraphExecutorOptimize());
    truth = truth_model.forward({x32}).toTensor().to(at::kFloat);
  }
  {
    torch::jit::GraphOptimizerEnabledGuard optimizer(graph_optimize);
    if (reduced) theirs = theirs_path->Forward(x0, 0).to(at::kFloat);
    torch::jit::Method forward = basis.module().get_method("forward");
    for (int i = 0; i < 3; ++i) ours = forward({x0}).toTensor();
    ours = ours.to(at::kFloat);
  }
  const double scale = std::max(1e-6, truth.abs().max().item<double>());
  const double ours_error =
      ours.sizes() == truth.sizes() ? (ours - truth).abs().max().item<double>() / scale : 1e300;
  const double allowed = AllowedError(st, truth, theirs);
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

}  // namespace

void DecideCudaGraphs(Selecting& s) {
  EvalState& st = s.state;
  const EvalOptions& options = s.options;
  auto off = [&](const std::string& why) { s.choice.cuda_graphs_note = "off: " + why; };
  if (options.cuda_graphs == EvalOptions::Choice::kOff) return off("--cuda-graphs off");
  if (!st.device.is_cuda() && options.cuda_graphs == EvalOptions::Choice::kAuto) return;  // nothing to say on CPUs
  if (s.kind == PathKind::kOnednn) return off("points run on the engine's own oneDNN primitives");
  if (!options.optimize) return off("--no-optimize");
  // Freezing turned off because it measured slower than it saves still leaves the fitted graph (it
  // freezes once); a model that cannot be frozen does not.
  if (!s.choice.optimized && s.choice.optimize_failure.rfind("off:", 0) != 0) return off("the model cannot be frozen");
  if (st.batches.empty() || st.batches.front().empty()) return off("no data");
  const bool graph_optimize = st.GraphOptimize();
  try {
    std::string note;
    auto fitted = FitConstants(s, graph_optimize, note);
    if (!fitted.ok()) return off(fitted.status().message());
    auto path = std::make_unique<FittedPath>(st, std::move(*fitted));
    if (!st.device.is_cuda()) {
      s.choice.cuda_graphs_note = note + "; no CUDA graphs on CPUs";
    } else {
      s.choice.cuda_graphs_note = note + path->CaptureSplits(graph_optimize);
    }
    s.choice.cuda_graphs = path->captured();
    s.choice.optimized = true;
    s.choice.optimize_failure.clear();
    s.other = std::move(path);
    s.kind = PathKind::kFitted;
  } catch (const std::exception& e) {
    // Points go back to the path chosen before (its choice unchanged).
    return off(FirstLine(e));
  }
}

}  // namespace landscape::engine
