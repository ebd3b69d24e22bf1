// The Hessian of the loss with respect to the tensors with dim > 1 (biases and
// BatchNorm excluded, as the reference does), as a matrix-free operator over
// Hessian-vector products computed by double back-propagation, and its extreme
// eigenvalues by Spectra's implicitly restarted Lanczos solver.
//
// Definition: H = ∇²L with L the per-sample MEAN loss over the Hessian samples
// (the reference sums batch-mean HVPs, which scales H by the number of batches;
// the |λmin/λmax| ratios the paper reads are the same either way). The model
// is in eval mode (BatchNorm uses its running statistics).
#pragma once

#include <torch/script.h>

#include <utility>
#include <vector>

#include "landscape/core/spec.h"
#include "landscape/core/status.h"

namespace landscape::engine {

class HessianOperator {
 public:
  /// `params`: the module's tensors with dim > 1 (they must require grad).
  /// `batches`: (images, labels) over which the mean loss is taken.
  HessianOperator(torch::jit::Module module, std::vector<at::Tensor> params,
                  std::vector<std::pair<at::Tensor, at::Tensor>> batches, core::Loss loss);

  int64_t size() const { return size_; }
  /// Hv for a flat vector v (float64, host), written to out.
  void Apply(const double* v, double* out);
  /// Hv for a flat tensor on the parameters' device and dtype.
  at::Tensor Apply(const at::Tensor& v);
  /// ∇L as a flat tensor (for tests: finite differences of gradients).
  at::Tensor Gradient();
  /// The mean loss at the current weights.
  double Loss();
  int64_t products() const { return products_; }

  /// The tensors with dim > 1 in parameter order (what the operator covers).
  static std::vector<at::Tensor> SelectParams(const torch::jit::Module& module);

 private:
  at::Tensor BatchLoss(const at::Tensor& x, const at::Tensor& y);

  torch::jit::Module module_;
  std::vector<at::Tensor> params_;
  std::vector<std::pair<at::Tensor, at::Tensor>> batches_;
  core::Loss loss_;
  int64_t n_ = 0;
  int64_t size_ = 0;
  int64_t products_ = 0;
};

struct ExtremeEigenvalues {
  double min_eig = 0, max_eig = 0;
  int64_t iterations = 0;
  int64_t products = 0;  // Hessian-vector products used
};

/// λmin and λmax (algebraic) of H. Errors if the solver does not converge.
core::Result<ExtremeEigenvalues> ComputeExtremeEigenvalues(HessianOperator& op, double tolerance,
                                                           int64_t max_iterations);

/// The k largest (algebraic) eigenvalues, in decreasing order; with `vectors`, their unit
/// eigenvectors too (in the operator's parameter order, each with its largest entry positive).
core::Result<std::vector<double>> ComputeTopEigenvalues(HessianOperator& op, int64_t k, double tolerance,
                                                        int64_t max_iterations,
                                                        std::vector<std::vector<double>>* vectors = nullptr);

struct TraceEstimate {
  double trace = 0;
  double standard_error = 0;
  int64_t samples = 0;
};
/// Hutchinson's estimator with Rademacher vectors from the portable generator.
TraceEstimate EstimateTrace(HessianOperator& op, int64_t samples, uint64_t seed);

}  // namespace landscape::engine
