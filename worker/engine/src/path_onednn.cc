// The "onednn" path: the model's convolutions on oneDNN primitives of the engine's own (onednn_net.h),
// loaded per point with the weights of the model frozen at that point; and the selector's step that
// compiles them when the options allow and (kAuto) they measure faster than the path chosen so far.
#include <algorithm>
#include <cstdio>

#include <torch/csrc/jit/runtime/graph_executor.h>

#include "measure.h"
#include "onednn_net.h"
#include "path_selector.h"

namespace landscape::engine {
namespace {

class OnednnPath : public BatchForwardPath {
 public:
  OnednnPath(EvalState& state, std::unique_ptr<OnednnNet> net) : BatchForwardPath(state), net_(std::move(net)) {}
  std::string name() const override { return "onednn"; }
  // The point's weights, BatchNorm folded by freezing, loaded into the primitives.
  void PreparePoint() override {
    torch::jit::Module frozen = state_.FrozenPoint();
    const core::Status loaded = net_->SetWeights(frozen.get_method("forward").graph());
    if (!loaded.ok()) throw std::runtime_error(loaded.message());
  }
  at::Tensor Forward(const at::Tensor& x, size_t lane) override { return net_->Forward(x, lane); }

 private:
  std::unique_ptr<OnednnNet> net_;
};

// Why the primitives cannot be used under these options and this path so far ("" when they can).
std::string RuledOut(const Selecting& s) {
  const EvalState& st = s.state;
  const EvalOptions& options = s.options;
  if (options.onednn == EvalOptions::Choice::kOff) return "--onednn off";
  if (st.device.is_cuda()) return "CUDA device";
  if (st.dtype != at::kFloat && st.dtype != at::kBFloat16) return "float16";
  if (!options.optimize) return "--no-optimize";
  // Freezing turned off because it measured slower leaves the primitives a chance; a model that cannot be
  // frozen does not.
  if (!s.choice.optimized && s.choice.optimize_failure.rfind("off:", 0) != 0) return "the model cannot be frozen";
  if (st.batches.empty() || st.batches.front().empty() || st.inputs.front().dim() != 4) return "no image data";
  return "";
}

// kAuto: a point on the primitives (freezing and loading its weights, then its batches) against a point on
// the path chosen so far; "" when the primitives win, else why not. Both run the way points will most
// likely run: with several threads and lanes allowed, one batch per single-threaded lane at once (the two
// paths rank differently with one thread and with several). `seconds`: a batch's time on the primitives.
std::string MeasuredSlower(Selecting& s, OnednnPath& ours, double& seconds) {
  EvalState& st = s.state;
  c10::InferenceMode guard;  // as the agreement check before it (freezing included)
  const at::Tensor& x0 = st.batches.front().front().first;
  const bool graph_optimize = st.GraphOptimize();
  BatchForwardPath& theirs = s.PrepareLibTorch();
  const bool in_lanes = st.threads > 1 && s.options.data_parallel != EvalOptions::Choice::kOff;
  auto batch_time = [&](BatchForwardPath& f) {
    if (!in_lanes) {
      torch::jit::GraphOptimizerEnabledGuard optimizer(graph_optimize);
      return BestSeconds(2, 3, [&] { (void)f.Forward(x0, 0).sum().item<float>(); });
    }
    LanePool& pool = s.lanes.Get(static_cast<size_t>(st.threads), st.threads);
    const double round = BestSeconds(2, 3, [&] {
      pool.Run([&](size_t l) {
        torch::jit::GraphOptimizerEnabledGuard lane_optimizer(graph_optimize);
        c10::InferenceMode lane_guard;
        (void)f.Forward(x0, l).sum().item<float>();
      });
    });
    return round / static_cast<double>(st.threads);  // a batch's share of a round
  };
  const double t_net = batch_time(ours);
  const double t_load = BestSeconds(0, 2, [&] { ours.PreparePoint(); });
  const double t_best = batch_time(theirs);
  // LibTorch's path pays its own per-point freezing when it has one.
  const double t_their_load = s.choice.optimized ? BestSeconds(0, 2, [&] { (void)s.PrepareLibTorch(); }) : 0.0;
  const auto n_batches = static_cast<double>(st.BatchCount());
  const double with = t_load + n_batches * t_net;
  const double without = t_their_load + n_batches * t_best;
  if (with > 0.95 * without) {
    char buf[240];
    std::snprintf(buf, sizeof buf, "a point would take %.1f ms on them against %.1f ms on LibTorch's path",
                  1e3 * with, 1e3 * without);
    return buf;
  }
  seconds = with / n_batches;
  return "";
}

// The primitives compiled for the point the weights hold, checked against LibTorch's forward pass on the
// first batch (Winograd rounds differently); an error's message says why they are not used.
core::Result<std::unique_ptr<OnednnNet>> Compile(Selecting& s, torch::jit::Module& frozen) {
  EvalState& st = s.state;
  std::vector<int64_t> sizes;
  for (const auto& split : st.batches) {
    for (const auto& b : split) {
      if (std::find(sizes.begin(), sizes.end(), b.first.size(0)) == sizes.end()) sizes.push_back(b.first.size(0));
    }
  }
  const at::Tensor& x0 = st.batches.front().front().first;
  OnednnNet::Options o;
  o.dtype = st.dtype;
  o.lanes = static_cast<size_t>(std::max(1, st.threads));
  // kAuto: Winograd per layer where it measures faster, with the threads a Forward will have (lanes:
  // one); kOn: wherever oneDNN has it.
  if (s.options.onednn == EvalOptions::Choice::kAuto) {
    o.require_all_convolutions = true;
    o.tune_threads = st.threads > 1 && s.options.data_parallel != EvalOptions::Choice::kOff ? 1 : st.threads;
  }
  auto net = OnednnNet::Create(frozen.get_method("forward").graph(), x0.sizes().slice(1), sizes, o);
  if (!net.ok()) return net.status();
  c10::InferenceMode guard;
  const at::Tensor ours = (*net)->Forward(x0, 0);
  at::Tensor theirs;
  {
    // As Evaluate: reduced precision runs without the graph executor's specializing optimizations (only
    // the forward passes: freezing needs them).
    torch::jit::GraphOptimizerEnabledGuard optimizer(st.GraphOptimize());
    theirs = frozen.forward({x0}).toTensor();
  }
  const double scale = std::max(1e-6, theirs.abs().max().item<double>());
  const double diff = ours.sizes() == theirs.sizes() ? (ours - theirs).abs().max().item<double>() / scale : 1e300;
  // bfloat16 keeps 8 bits of mantissa: two implementations' roundings differ by ~1e-2.
  if (!(diff <= (st.dtype == at::kFloat ? 1e-4 : 3e-2))) {
    char buf[240];
    std::snprintf(buf, sizeof buf, "its outputs differ from LibTorch's by %.2g of their scale", diff);
    return core::Status(core::StatusCode::kFailedPrecondition, buf);
  }
  return std::move(*net);
}

}  // namespace

void DecideOnednn(Selecting& s) {
  auto off = [&](const std::string& why) { s.choice.onednn_note = "off: " + why; };
  const std::string ruled_out = RuledOut(s);
  if (!ruled_out.empty()) return off(ruled_out);
  try {
    torch::jit::Module frozen = s.state.FrozenPoint();
    auto net = Compile(s, frozen);
    if (!net.ok()) return off(net.status().message());
    const std::string description = (*net)->Description();
    auto path = std::make_unique<OnednnPath>(s.state, std::move(*net));
    if (s.options.onednn == EvalOptions::Choice::kAuto) {
      double seconds = 0;
      const std::string slower = MeasuredSlower(s, *path, seconds);
      if (!slower.empty()) return off(slower);
      s.batch_seconds = seconds;
    }
    s.choice.onednn_note = description;
    s.other = std::move(path);
    s.kind = PathKind::kOnednn;
    s.lanes_measured.reset();  // measured on LibTorch's graph: measure again on the primitives
  } catch (const std::exception& e) {
    return off(FirstLine(e));
  }
}

}  // namespace landscape::engine
