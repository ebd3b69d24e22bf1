// The Hessian operator against independent expectations: finite differences of
// gradients (float64, smooth model), and the spectrum of the explicit matrix.
#include <gtest/gtest.h>
#include <torch/script.h>

#include <Eigen/Dense>
#include <cmath>

#include "hessian.h"
#include "landscape/core/rng.h"

namespace landscape::engine {
namespace {

// A float64 two-layer tanh network (smooth, so finite differences are exact to O(ε²)).
torch::jit::Module SmoothNet(int64_t in, int64_t hidden, int64_t classes) {
  torch::jit::Module m("__torch__.test.SmoothNet");
  m.register_attribute("training", c10::BoolType::get(), false);
  core::Rng rng(3);
  auto randn = [&](std::vector<int64_t> shape, double scale) {
    at::Tensor t = at::empty(shape, at::kDouble);
    double* p = t.data_ptr<double>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = rng.NextGaussian() * scale;
    return t;
  };
  m.register_parameter("w1", randn({hidden, in}, 0.5).requires_grad_(), false);
  m.register_parameter("b1", randn({hidden}, 0.1).requires_grad_(), false);
  m.register_parameter("w2", randn({classes, hidden}, 0.5).requires_grad_(), false);
  m.define(R"(
def forward(self, x):
    h = torch.tanh(torch.linear(torch.flatten(x, 1), self.w1, self.b1))
    return torch.linear(h, self.w2, None)
)");
  return m;
}

std::vector<std::pair<at::Tensor, at::Tensor>> Data(int64_t n, int64_t in, int64_t classes, int64_t batch) {
  core::Rng rng(11);
  at::Tensor x = at::empty({n, in}, at::kDouble);
  for (int64_t i = 0; i < x.numel(); ++i) x.data_ptr<double>()[i] = rng.NextGaussian();
  at::Tensor y = at::empty({n}, at::kLong);
  for (int64_t i = 0; i < n; ++i) y.data_ptr<int64_t>()[i] = static_cast<int64_t>(rng.Below(classes));
  std::vector<std::pair<at::Tensor, at::Tensor>> b;
  for (int64_t s = 0; s < n; s += batch) {
    b.emplace_back(x.narrow(0, s, std::min(batch, n - s)), y.narrow(0, s, std::min(batch, n - s)));
  }
  return b;
}

class HessianTest : public ::testing::TestWithParam<core::Loss> {};

TEST_P(HessianTest, HvpMatchesFiniteDifferencesOfGradients) {
  auto net = SmoothNet(5, 7, 3);
  auto params = HessianOperator::SelectParams(net);
  ASSERT_EQ(params.size(), 2u);  // w1 and w2; the bias (dim 1) is excluded
  HessianOperator op(net, params, Data(40, 5, 3, 16), GetParam());
  ASSERT_EQ(op.size(), 7 * 5 + 3 * 7);
  core::Rng rng(5);
  at::Tensor v = at::empty({op.size()}, at::kDouble);
  for (int64_t i = 0; i < op.size(); ++i) v.data_ptr<double>()[i] = rng.NextGaussian();
  const at::Tensor hv = op.Apply(v);

  const double eps = 1e-5;
  auto shift = [&](double s) {
    at::NoGradGuard g;
    int64_t off = 0;
    for (auto& p : params) {
      p.add_(v.narrow(0, off, p.numel()).view(p.sizes()), s);
      off += p.numel();
    }
  };
  shift(eps);
  const at::Tensor g_plus = op.Gradient();
  shift(-2 * eps);
  const at::Tensor g_minus = op.Gradient();
  shift(eps);
  const at::Tensor fd = (g_plus - g_minus) / (2 * eps);
  const double rel = (hv - fd).norm().item<double>() / fd.norm().item<double>();
  EXPECT_LT(rel, 1e-7) << "relative error of Hv against finite differences";
}

TEST_P(HessianTest, ExtremeAndTopEigenvaluesAndTraceMatchTheExplicitMatrix) {
  auto net = SmoothNet(4, 6, 3);
  HessianOperator op(net, HessianOperator::SelectParams(net), Data(60, 4, 3, 32), GetParam());
  const int64_t n = op.size();
  // The explicit Hessian, column by column.
  Eigen::MatrixXd h(n, n);
  std::vector<double> e(static_cast<size_t>(n), 0.0), col(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) {
    e[static_cast<size_t>(j)] = 1.0;
    op.Apply(e.data(), col.data());
    e[static_cast<size_t>(j)] = 0.0;
    for (int64_t i = 0; i < n; ++i) h(i, j) = col[static_cast<size_t>(i)];
  }
  EXPECT_LT((h - h.transpose()).norm(), 1e-10 * h.norm()) << "the Hessian must be symmetric";
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(0.5 * (h + h.transpose()));
  const Eigen::VectorXd ev = es.eigenvalues();
  const double scale = std::max(std::fabs(ev(0)), std::fabs(ev(n - 1)));

  auto ext = ComputeExtremeEigenvalues(op, 1e-10, 500);
  ASSERT_TRUE(ext.ok()) << ext.status();
  EXPECT_NEAR(ext->max_eig, ev(n - 1), 1e-6 * scale);
  EXPECT_NEAR(ext->min_eig, ev(0), 1e-6 * scale);
  EXPECT_GT(ext->products, 0);

  auto top = ComputeTopEigenvalues(op, 3, 1e-10, 500);
  ASSERT_TRUE(top.ok()) << top.status();
  for (int k = 0; k < 3; ++k) EXPECT_NEAR((*top)[static_cast<size_t>(k)], ev(n - 1 - k), 1e-6 * scale);

  auto tr = EstimateTrace(op, 400, 1);
  EXPECT_EQ(tr.samples, 400);
  EXPECT_GT(tr.standard_error, 0);
  EXPECT_NEAR(tr.trace, h.trace(), 5 * tr.standard_error) << "Hutchinson estimate vs the exact trace";
}

INSTANTIATE_TEST_SUITE_P(Losses, HessianTest, ::testing::Values(core::Loss::kCrossEntropy, core::Loss::kMse),
                         [](const auto& info) { return std::string(core::Name(info.param)); });

}  // namespace
}  // namespace landscape::engine
