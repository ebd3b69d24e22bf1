// The "frozen" path: per point, a copy of the module (in the compute dtype) frozen with the point's
// weights as constants and optimized for inference (BatchNorm folded, oneDNN prepacked weights and fused
// activations on CPUs); and the selector's step that turns it off when it costs more than it saves.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "measure.h"
#include "path_selector.h"

namespace landscape::engine {
namespace {

class FrozenPath : public BatchForwardPath {
 public:
  using BatchForwardPath::BatchForwardPath;
  std::string name() const override { return "frozen"; }
  // Freezes the point; a model that cannot be frozen runs as it is from then on (failure() says why).
  void PreparePoint() override {
    torch::jit::Module base = state_.module;
    if (state_.dtype != at::kFloat) {
      state_.RefreshReduced();
      base = state_.reduced;
    }
    if (failure_.empty()) {
      try {
        torch::jit::Module frozen = torch::jit::freeze(base);
        frozen_ = torch::jit::optimize_for_inference(frozen);
        forward_.Use(frozen_);
        return;
      } catch (const std::exception& e) {
        failure_ = FirstLine(e);
      }
    }
    frozen_ = base;
    forward_.Use(frozen_);
  }
  at::Tensor Forward(const at::Tensor& x, size_t /*lane*/) override { return forward_(x); }
  const std::string& failure() const { return failure_; }
  torch::jit::Module& prepared() { return frozen_; }

 private:
  torch::jit::Module frozen_;  // the point's frozen graph (or the module, when it cannot be frozen)
  ModuleForward forward_;
  std::string failure_;
};

}  // namespace

void Selecting::UseLibTorch() {
  if (choice.optimized) {
    libtorch = std::make_unique<FrozenPath>(state);
  } else {
    libtorch = MakeModulePath(state);
  }
  if (!other) kind = choice.optimized ? PathKind::kFrozen : PathKind::kModule;
}

BatchForwardPath& Selecting::PrepareLibTorch() {
  libtorch->PreparePoint();
  auto* frozen = dynamic_cast<FrozenPath*>(libtorch.get());
  if (frozen && !frozen->failure().empty()) {
    choice.optimized = false;
    choice.optimize_failure = frozen->failure();
    UseLibTorch();
    libtorch->PreparePoint();
  }
  return *libtorch;
}

ForwardPath& Selecting::PrepareChosen() {
  if (!other) return PrepareLibTorch();
  other->PreparePoint();
  return *other;
}

void DecideOptimization(Selecting& s) {
  // A frozen graph per point pays when its faster passes outweigh the freezing:
  //   freeze + batches * t_frozen < batches * t_plain.
  // Measured here on the first batch; small models on small data often lose.
  EvalState& st = s.state;
  if (!s.choice.optimized || st.dtype != at::kFloat) return;
  if (st.batches.empty() || st.batches.front().empty()) return;
  const at::Tensor& x = st.batches.front().front().first;
  const auto t0 = std::chrono::steady_clock::now();
  s.PrepareLibTorch();
  const double t_freeze = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!s.choice.optimized) return;  // could not be frozen
  const double t_frozen = TimeForward(static_cast<FrozenPath&>(*s.libtorch).prepared(), x);
  const double t_plain = TimeForward(st.module, x);
  const auto n_batches = static_cast<double>(st.BatchCount());
  const double with = t_freeze + n_batches * t_frozen;
  const double without = n_batches * t_plain;
  s.batch_seconds = std::min(with, without) / n_batches;
  if (with >= without) {
    s.choice.optimized = false;
    s.UseLibTorch();
    s.lanes_measured.reset();  // measured on the frozen graph: measure again on the path taken
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "off: a frozen graph per point would cost %.1f ms against %.1f ms for the model as loaded",
                  1e3 * with, 1e3 * without);
    s.choice.optimize_failure = buf;
  }
}

}  // namespace landscape::engine
