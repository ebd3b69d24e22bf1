#include "hessian.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <Spectra/SymEigsSolver.h>

#include <cmath>

#include "landscape/core/rng.h"
#include "model_io.h"

namespace landscape::engine {

using core::Result;
using core::Status;
using core::StatusCode;

std::vector<at::Tensor> HessianOperator::SelectParams(const torch::jit::Module& module) {
  std::vector<at::Tensor> out;
  for (const auto& nt : CollectTensors(module, core::DirType::kWeights)) {
    if (nt.tensor.dim() > 1 && at::isFloatingType(nt.tensor.scalar_type())) out.push_back(nt.tensor);
  }
  return out;
}

HessianOperator::HessianOperator(torch::jit::Module module, std::vector<at::Tensor> params,
                                 std::vector<std::pair<at::Tensor, at::Tensor>> batches, core::Loss loss)
    : module_(std::move(module)), params_(std::move(params)), batches_(std::move(batches)), loss_(loss) {
  for (const auto& b : batches_) n_ += b.second.size(0);
  for (const auto& p : params_) size_ += p.numel();
  for (auto& p : params_) p.requires_grad_(true);
  module_.eval();
}

at::Tensor HessianOperator::BatchLoss(const at::Tensor& x, const at::Tensor& y) {
  at::Tensor out = module_.forward({x}).toTensor();
  // Each batch contributes its share of the per-sample mean: sum over the batch / N.
  if (loss_ == core::Loss::kCrossEntropy) {
    return at::cross_entropy_loss(out, y, {}, at::Reduction::Sum) / static_cast<double>(n_);
  }
  if (loss_ == core::Loss::kRegression) {
    const int64_t k = out.numel() / std::max<int64_t>(1, out.size(0));
    return (out - y.reshape(out.sizes())).pow(2).sum() / static_cast<double>(k * n_);
  }
  const int64_t classes = out.size(1);
  at::Tensor p = at::softmax(out, 1);
  return (p - at::one_hot(y, classes).to(p.scalar_type())).pow(2).sum() /
         static_cast<double>(classes * n_);
}

at::Tensor HessianOperator::Apply(const at::Tensor& v) {
  ++products_;
  std::vector<at::Tensor> parts;
  int64_t offset = 0;
  for (const auto& p : params_) {
    parts.push_back(v.narrow(0, offset, p.numel()).view(p.sizes()));
    offset += p.numel();
  }
  std::vector<at::Tensor> hv(params_.size());
  for (const auto& [x, y] : batches_) {
    at::Tensor loss = BatchLoss(x, y);
    auto grads = torch::autograd::grad({loss}, params_, {}, /*retain_graph=*/true, /*create_graph=*/true);
    at::Tensor dot = at::zeros({}, v.options());
    for (size_t i = 0; i < grads.size(); ++i) dot = dot + (grads[i] * parts[i]).sum();
    auto h = torch::autograd::grad({dot}, params_, {}, /*retain_graph=*/false, /*create_graph=*/false);
    for (size_t i = 0; i < h.size(); ++i) hv[i] = hv[i].defined() ? hv[i] + h[i] : h[i];
  }
  std::vector<at::Tensor> flat;
  for (auto& t : hv) flat.push_back(t.reshape({-1}));
  return at::cat(flat).detach();
}

void HessianOperator::Apply(const double* v, double* out) {
  const auto& p0 = params_.front();
  at::Tensor vt = at::from_blob(const_cast<double*>(v), {size_}, at::kDouble).to(p0.options().requires_grad(false));
  at::Tensor hv = Apply(vt).to(at::kDouble).cpu().contiguous();
  std::memcpy(out, hv.data_ptr<double>(), static_cast<size_t>(size_) * sizeof(double));
}

at::Tensor HessianOperator::Gradient() {
  std::vector<at::Tensor> g(params_.size());
  for (const auto& [x, y] : batches_) {
    auto grads = torch::autograd::grad({BatchLoss(x, y)}, params_);
    for (size_t i = 0; i < grads.size(); ++i) g[i] = g[i].defined() ? g[i] + grads[i] : grads[i];
  }
  std::vector<at::Tensor> flat;
  for (auto& t : g) flat.push_back(t.reshape({-1}));
  return at::cat(flat).detach();
}

double HessianOperator::Loss() {
  c10::InferenceMode guard;
  double total = 0;
  for (const auto& [x, y] : batches_) total += BatchLoss(x, y).item<double>();
  return total;
}

namespace {

// Spectra's matrix-free operator interface over sign·H + shift·I.
class SpectraOp {
 public:
  using Scalar = double;
  SpectraOp(HessianOperator* op, double sign, double shift) : op_(op), sign_(sign), shift_(shift) {}
  Eigen::Index rows() const { return op_->size(); }
  Eigen::Index cols() const { return op_->size(); }
  void perform_op(const double* x_in, double* y_out) const {
    op_->Apply(x_in, y_out);
    for (Eigen::Index i = 0; i < rows(); ++i) y_out[i] = sign_ * y_out[i] + shift_ * x_in[i];
  }

 private:
  HessianOperator* op_;
  double sign_, shift_;
};

Result<Eigen::VectorXd> Solve(HessianOperator& op, int64_t nev, Spectra::SortRule rule, double tol, int64_t maxit,
                              double sign = 1.0, double shift = 0.0, Eigen::MatrixXd* vectors = nullptr) {
  const int64_t n = op.size();
  if (n < 2) return Status(StatusCode::kFailedPrecondition, "the Hessian needs at least 2 parameters with dim > 1");
  nev = std::min<int64_t>(nev, n - 1);
  const int64_t ncv = std::min<int64_t>(n, std::max<int64_t>(2 * nev + 1, 20));
  SpectraOp sop(&op, sign, shift);
  try {
    Spectra::SymEigsSolver<SpectraOp> solver(sop, nev, ncv);
    solver.init();
    solver.compute(rule, maxit, tol, Spectra::SortRule::LargestAlge);
    if (solver.info() != Spectra::CompInfo::Successful) {
      return Status(StatusCode::kInternal, "the Lanczos solver did not converge in " + std::to_string(maxit) +
                                               " restarts (tolerance " + std::to_string(tol) + ")");
    }
    if (vectors) *vectors = solver.eigenvectors();
    return Eigen::VectorXd(solver.eigenvalues());
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, "Hessian eigenvalues: " + FirstLine(e));
  }
}

}  // namespace

Result<ExtremeEigenvalues> ComputeExtremeEigenvalues(HessianOperator& op, double tol, int64_t maxit) {
  // Lanczos converges relative to each eigenvalue's own magnitude, which an eigenvalue
  // near 0 (common at a minimum) never reaches with float32 products. So both extremes
  // are found as largest-magnitude eigenvalues of shifted operators, and their error is
  // relative to the spectral radius s:
  //   μ = the largest-magnitude eigenvalue of H (λmax if μ > 0, else λmin), s = |μ|;
  //   λmin = s − λ_LM(sI − H)   (spectrum of sI − H in [0, 2s]),
  //   λmax = λ_LM(H + sI) − s   (spectrum of H + sI in [0, 2s]).
  const int64_t before = op.products();
  ExtremeEigenvalues r;
  LS_ASSIGN_OR_RETURN(Eigen::VectorXd mu, Solve(op, 1, Spectra::SortRule::LargestMagn, tol, maxit));
  const double s = std::fabs(mu[0]);
  if (s == 0.0) {
    r.products = op.products() - before;
    return r;  // H = 0
  }
  if (mu[0] > 0) {
    r.max_eig = mu[0];
    LS_ASSIGN_OR_RETURN(Eigen::VectorXd lo, Solve(op, 1, Spectra::SortRule::LargestMagn, tol, maxit, -1.0, s));
    r.min_eig = s - lo[0];
  } else {
    r.min_eig = mu[0];
    LS_ASSIGN_OR_RETURN(Eigen::VectorXd hi, Solve(op, 1, Spectra::SortRule::LargestMagn, tol, maxit, 1.0, s));
    r.max_eig = hi[0] - s;
  }
  r.products = op.products() - before;
  return r;
}

Result<std::vector<double>> ComputeTopEigenvalues(HessianOperator& op, int64_t k, double tol, int64_t maxit,
                                                  std::vector<std::vector<double>>* vectors) {
  Eigen::MatrixXd vecs;
  LS_ASSIGN_OR_RETURN(Eigen::VectorXd ev,
                      Solve(op, k, Spectra::SortRule::LargestAlge, tol, maxit, 1.0, 0.0, vectors ? &vecs : nullptr));
  std::vector<Eigen::Index> order(static_cast<size_t>(ev.size()));
  for (Eigen::Index i = 0; i < ev.size(); ++i) order[static_cast<size_t>(i)] = i;
  std::sort(order.begin(), order.end(), [&](Eigen::Index a, Eigen::Index b) { return ev[a] > ev[b]; });
  std::vector<double> out;
  for (Eigen::Index i : order) out.push_back(ev[i]);
  if (vectors) {
    vectors->clear();
    for (Eigen::Index i : order) {
      Eigen::VectorXd v = vecs.col(i);
      // A deterministic sign: the largest-magnitude entry positive (as PCA's svd_flip).
      Eigen::Index arg = 0;
      v.cwiseAbs().maxCoeff(&arg);
      if (v[arg] < 0) v = -v;
      vectors->emplace_back(v.data(), v.data() + v.size());
    }
  }
  return out;
}

TraceEstimate EstimateTrace(HessianOperator& op, int64_t samples, uint64_t seed) {
  core::Rng rng = core::Rng::Stream(seed, 0x74726163);
  std::vector<double> v(static_cast<size_t>(op.size())), hv(v.size());
  double sum = 0, sum2 = 0;
  for (int64_t s = 0; s < samples; ++s) {
    for (auto& x : v) x = (rng.NextU64() & 1) ? 1.0 : -1.0;
    op.Apply(v.data(), hv.data());
    double q = 0;
    for (size_t i = 0; i < v.size(); ++i) q += v[i] * hv[i];
    sum += q;
    sum2 += q * q;
  }
  TraceEstimate t;
  t.samples = samples;
  t.trace = samples > 0 ? sum / static_cast<double>(samples) : 0;
  if (samples > 1) {
    const double var = (sum2 - sum * sum / static_cast<double>(samples)) / static_cast<double>(samples - 1);
    t.standard_error = std::sqrt(std::max(0.0, var) / static_cast<double>(samples));
  }
  return t;
}

}  // namespace landscape::engine
