#include "evaluator.h"

#include <algorithm>
#include <cstdio>

#include "measure.h"

namespace landscape::engine {

using core::Result;
using core::Status;
using core::StatusCode;

void PointEvaluator::DecideOnednn(const EvalOptions& options) {
  auto off = [&](const std::string& why) { onednn_note_ = "off: " + why; };
  if (options.onednn == EvalOptions::Choice::kOff) return off("--onednn off");
  if (device_.is_cuda()) return off("CUDA device");
  if (dtype_ != at::kFloat && dtype_ != at::kBFloat16) return off("float16");
  if (!options.optimize) return off("--no-optimize");
  // Freezing turned off because it measured slower leaves the primitives a chance; a model that cannot be
  // frozen does not.
  if (!optimize_ && optimize_failure_.rfind("off:", 0) != 0) return off("the model cannot be frozen");
  if (batches_.empty() || batches_.front().empty() || inputs_.front().dim() != 4) return off("no image data");
  std::vector<int64_t> sizes;
  for (const auto& split : batches_) {
    for (const auto& b : split) {
      if (std::find(sizes.begin(), sizes.end(), b.first.size(0)) == sizes.end()) sizes.push_back(b.first.size(0));
    }
  }
  const at::Tensor& x0 = batches_.front().front().first;
  // As Evaluate: reduced precision runs without the graph executor's specializing optimizations (only
  // the forward passes: freezing needs them).
  const bool graph_optimize = dtype_ == at::kFloat && torch::jit::getGraphExecutorOptimize();
  try {
    torch::jit::Module frozen = FrozenPoint();
    OnednnNet::Options o;
    o.dtype = dtype_;
    o.lanes = static_cast<size_t>(std::max(1, threads_));
    // kAuto: Winograd per layer where it measures faster, with the threads a Forward will have (lanes:
    // one); kOn: wherever oneDNN has it.
    if (options.onednn == EvalOptions::Choice::kAuto) {
      o.require_all_convolutions = true;
      o.tune_threads = threads_ > 1 && options.data_parallel != EvalOptions::Choice::kOff ? 1 : threads_;
    }
    auto net = OnednnNet::Create(frozen.get_method("forward").graph(), x0.sizes().slice(1), sizes, o);
    if (!net.ok()) return off(net.status().message());
    c10::InferenceMode guard;
    // Agreement with LibTorch's forward pass on the first batch (Winograd rounds differently).
    const at::Tensor ours = (*net)->Forward(x0, 0);
    at::Tensor theirs;
    {
      torch::jit::GraphOptimizerEnabledGuard optimizer(graph_optimize);
      theirs = frozen.forward({x0}).toTensor();
    }
    const double scale = std::max(1e-6, theirs.abs().max().item<double>());
    const double diff = ours.sizes() == theirs.sizes() ? (ours - theirs).abs().max().item<double>() / scale : 1e300;
    char buf[240];
    // bfloat16 keeps 8 bits of mantissa: two implementations' roundings differ by ~1e-2.
    if (!(diff <= (dtype_ == at::kFloat ? 1e-4 : 3e-2))) {
      std::snprintf(buf, sizeof buf, "its outputs differ from LibTorch's by %.2g of their scale", diff);
      return off(buf);
    }
    if (options.onednn == EvalOptions::Choice::kAuto) {
      // A point: freezing and loading its weights, then its batches; against the path chosen so far, both
      // run the way points will most likely run: with several threads and lanes allowed, one batch per
      // single-threaded lane at once (the two paths rank differently with one thread and with several).
      OnednnNet* n = net->get();
      const BatchForward ours_forward = OnNet(n);
      const BatchForward theirs_forward = OnModule(ForwardModule());
      const bool in_lanes = threads_ > 1 && options.data_parallel != EvalOptions::Choice::kOff;
      auto batch_time = [&](const BatchForward& f) {
        if (!in_lanes) {
          torch::jit::GraphOptimizerEnabledGuard optimizer(graph_optimize);
          return BestSeconds(2, 3, [&] { (void)f(x0, 0).sum().item<float>(); });
        }
        LanePool& pool = Lanes(static_cast<size_t>(threads_));
        const double round = BestSeconds(2, 3, [&] {
          pool.Run([&](size_t l) {
            torch::jit::GraphOptimizerEnabledGuard lane_optimizer(graph_optimize);
            c10::InferenceMode lane_guard;
            (void)f(x0, l).sum().item<float>();
          });
        });
        return round / static_cast<double>(threads_);  // a batch's share of a round
      };
      const double t_net = batch_time(ours_forward);
      const double t_load = BestSeconds(0, 2, [&] {
        torch::jit::Module f = FrozenPoint();
        if (!n->SetWeights(f.get_method("forward").graph()).ok()) throw std::runtime_error("cannot load weights");
      });
      const double t_best = batch_time(theirs_forward);
      // LibTorch's path pays its own per-point freezing when it has one.
      const double t_their_load = optimize_ ? BestSeconds(0, 2, [&] { (void)ForwardModule(); }) : 0.0;
      int64_t n_batches = 0;
      for (const auto& b : batches_) n_batches += static_cast<int64_t>(b.size());
      const double with = t_load + static_cast<double>(n_batches) * t_net;
      const double without = t_their_load + static_cast<double>(n_batches) * t_best;
      if (with > 0.95 * without) {
        std::snprintf(buf, sizeof buf, "a point would take %.1f ms on them against %.1f ms on LibTorch's path",
                      1e3 * with, 1e3 * without);
        return off(buf);
      }
      batch_seconds_ = with / static_cast<double>(n_batches);
    }
    onednn_note_ = (*net)->Description();
    onednn_ = std::move(*net);
    lanes_measured_.reset();  // measured on LibTorch's graph: measure again on the primitives
  } catch (const std::exception& e) {
    onednn_.reset();
    return off(FirstLine(e));
  }
}

}  // namespace landscape::engine
