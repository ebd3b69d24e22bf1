// FrozenBasis: one frozen graph for every grid point, its constants set per point by a few kernels.
//
// Freezing a model at θ0 + α·dx + β·dy bakes its weights into the graph as constants and folds each
// BatchNorm into the convolution or linear layer before it: weight' = weight·γ/√(var+ε),
// bias' = (bias − mean)·γ/√(var+ε) + β_bn. With the running statistics fixed (dir_type weights, or
// directions that leave them alone) each factor is affine in (α, β), so every constant is a polynomial of
// degree ≤ 2 in the point:
//   c(α, β) = c0 + α·ca + β·cb + α²·caa + α·β·cab + β²·cbb      (1-D: c0 + α·ca + α²·caa)
// Six freezes (three in 1-D) at (0,0), (±1,0), (0,±1), (1,1) fix the six coefficient tensors; a seventh,
// at an off-grid point, is the graph that runs, and its constants must equal the polynomial's values
// there (else Create refuses: e.g. directions that move the running variance, or passes that fold weights
// non-polynomially). Afterwards a point costs ≤ 7 elementwise kernels per constant dtype instead of a
// freeze (≈ 0.1–0.3 s of CPU for a ResNet-56), and the graph, its executor's plan and any CUDA graph
// captured over it stay valid from point to point: the constants are views into flat buffers that Set
// rewrites in place.
//
// The coefficients are fitted on float32 freezes; the graph that runs may hold its floating constants in
// a reduced precision (`Options::dtype`), rounded once from the float32 polynomial.
#pragma once

#include <torch/script.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "landscape/core/status.h"

namespace landscape::engine {

class FrozenBasis {
 public:
  struct Options {
    /// The dtype float32 constants take in the graph that runs (float32, bfloat16 or float16); other
    /// floating constants keep theirs.
    at::ScalarType dtype = at::kFloat;
    /// 4-D floating constants (convolution weights) stored channels-last.
    bool channels_last = false;
    /// The polynomial's largest difference from the check freeze's constants, relative to each constant's
    /// largest magnitude, that Create accepts.
    double tolerance = 1e-4;
  };

  /// The model frozen (and optimized, as the caller runs it) at (alpha, beta), in float32. Every call
  /// must return a fresh module of the same graph structure.
  using FreezeAt = std::function<torch::jit::Module(double alpha, double beta)>;

  /// Fits the basis from freezes at the basis points and builds the graph that runs (frozen at the check
  /// point, left set there). FailedPrecondition, with the reason, when the constants are not a quadratic
  /// polynomial of the point or the frozen graphs differ in structure (then freeze per point instead).
  /// With `running_at`, the graph that runs is frozen by it instead (e.g. a reduced-precision copy of the
  /// model): its tensor constants must match freeze_at's one to one in shape; each keeps its dtype there
  /// (`Options::dtype` is then unused).
  static core::Result<std::unique_ptr<FrozenBasis>> Create(const FreezeAt& freeze_at, bool two_d,
                                                           const Options& options,
                                                           const FreezeAt& running_at = nullptr);

  /// The frozen model whose constants Set rewrites. Its forward method's graph must not be replaced.
  torch::jit::Module& module() { return module_; }

  /// Sets the constants to their values at (alpha, beta) (beta ignored in 1-D): kernels only, no
  /// synchronization with the device.
  void Set(double alpha, double beta);

  /// The off-grid point the graph was frozen at (and is set to after Create).
  double check_alpha() const { return check_alpha_; }
  double check_beta() const { return check_beta_; }

  /// "56 constants (0.86 M values), bfloat16; fitted to 3e-08 at the check point".
  const std::string& description() const { return description_; }

 private:
  FrozenBasis() = default;

  struct Group {
    at::Tensor values;                  // the graph's constants (views into it), in the running dtype
    std::vector<at::Tensor> terms;      // c0, ca, cb, caa, cab, cbb (1-D: c0, ca, caa), float32
    at::Tensor scratch;                 // float32 sum when `values` is not float32
  };
  torch::jit::Module module_;
  std::vector<Group> groups_;
  bool two_d_ = false;
  double check_alpha_ = 0, check_beta_ = 0;
  std::string description_;
};

}  // namespace landscape::engine
