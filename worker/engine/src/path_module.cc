// The "module" path: the module as loaded (float32), or its reduced-precision copy with the point's
// weights copied in per point.
#include "path_selector.h"

namespace landscape::engine {
namespace {

class ModulePath : public BatchForwardPath {
 public:
  using BatchForwardPath::BatchForwardPath;
  std::string name() const override { return "module"; }
  void PreparePoint() override {
    if (state_.dtype == at::kFloat) {
      forward_.Use(state_.module);
      return;
    }
    state_.RefreshReduced();
    forward_.Use(state_.reduced);
  }
  at::Tensor Forward(const at::Tensor& x, size_t /*lane*/) override { return forward_(x); }

 private:
  ModuleForward forward_;
};

}  // namespace

std::unique_ptr<BatchForwardPath> MakeModulePath(EvalState& state) { return std::make_unique<ModulePath>(state); }

}  // namespace landscape::engine
