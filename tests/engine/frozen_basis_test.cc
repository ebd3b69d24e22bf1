// FrozenBasis against freezing the model again at each point: the fitted graph's outputs agree (to float32
// rounding) at points inside and outside the fitted ones, in 1-D and 2-D, with BatchNorm's scale and shift
// moving too (quadratic constants); it refuses what is not quadratic (moving running variances) and graphs
// whose constants it cannot rewrite; reduced precision stores the constants rounded once, channels-last.
#include <gtest/gtest.h>
#include <torch/csrc/jit/passes/freeze_module.h>
#include <torch/script.h>

#include <vector>

#include "cuda_graph.h"
#include "frozen_basis.h"
#include "test_models.h"

namespace landscape::engine {
namespace {

using testing_models::RelDiff;
using testing_models::TrainedLookingResNet20;

// The model's tensors (parameters, or parameters and buffers) with their centre and two directions;
// Move sets θ0 + α·dx + β·dy in place.
struct Moving {
  std::vector<at::Tensor> tensors, theta0, dx, dy;
  Moving(torch::jit::Module& m, bool with_buffers) {
    for (const at::Tensor& p : m.parameters()) tensors.push_back(p);
    if (with_buffers) {
      for (const at::Tensor& b : m.buffers()) {
        if (at::isFloatingType(b.scalar_type())) tensors.push_back(b);
      }
    }
    for (const at::Tensor& t : tensors) {
      theta0.push_back(t.detach().clone());
      dx.push_back(at::randn_like(t) * 0.1 * (t.abs().mean() + 0.1));
      dy.push_back(at::randn_like(t) * 0.1 * (t.abs().mean() + 0.1));
    }
  }
  void Move(double alpha, double beta) {
    at::NoGradGuard g;
    for (size_t i = 0; i < tensors.size(); ++i) tensors[i].copy_(theta0[i] + dx[i] * alpha + dy[i] * beta);
  }
};

TEST(FrozenBasis, AgreesWithFreezingAtEveryPointIn2DAnd1D) {
  at::manual_seed(4);
  torch::jit::Module m = TrainedLookingResNet20(12, 5);
  Moving moving(m, /*with_buffers=*/false);  // weights, biases and BatchNorm's scale and shift
  auto freeze_at = [&](double a, double b) {
    moving.Move(a, b);
    return torch::jit::freeze(m);
  };
  const at::Tensor x = at::randn({6, 1, 12, 12});
  for (bool two_d : {true, false}) {
    auto basis = FrozenBasis::Create(freeze_at, two_d, {});
    ASSERT_TRUE(basis.ok()) << basis.status().ToString();
    EXPECT_NE((*basis)->description().find("constants"), std::string::npos) << (*basis)->description();
    torch::jit::Method forward = (*basis)->module().get_method("forward");
    const auto graph = forward.graph();
    c10::InferenceMode guard;
    // Warm-up: the graph executor's optimized plan must keep reading the rewritten constants.
    for (int i = 0; i < 3; ++i) (void)forward({x});
    for (auto [a, b] : {std::pair{0.3, -0.2}, std::pair{-0.9, 0.7}, std::pair{2.5, 1.5}, std::pair{0.0, 0.0}}) {
      if (!two_d) b = 0;
      (*basis)->Set(a, b);
      const at::Tensor got = forward({x}).toTensor();
      torch::jit::Module ref = freeze_at(a, b);
      EXPECT_LT(RelDiff(got, ref.forward({x}).toTensor()), 1e-5) << (two_d ? "2-D " : "1-D ") << a << "," << b;
    }
    EXPECT_EQ(forward.graph(), graph) << "the same graph at every point";
  }
}

TEST(FrozenBasis, RefusesConstantsThatAreNotQuadraticInThePoint) {
  at::manual_seed(5);
  torch::jit::Module m = TrainedLookingResNet20(12, 5);
  // dir_type states: the running variances move, and BatchNorm folds 1/√(var + ε) into the weights.
  Moving moving(m, /*with_buffers=*/true);
  auto freeze_at = [&](double a, double b) {
    moving.Move(a, b);
    return torch::jit::freeze(m);
  };
  auto basis = FrozenBasis::Create(freeze_at, true, {});
  ASSERT_FALSE(basis.ok());
  EXPECT_EQ(basis.status().code(), core::StatusCode::kFailedPrecondition);
  EXPECT_NE(basis.status().message().find("not quadratic"), std::string::npos) << basis.status().message();
}

TEST(FrozenBasis, RefusesGraphsThatDifferBetweenPoints) {
  at::manual_seed(6);
  torch::jit::Module m = TrainedLookingResNet20(12, 5);
  Moving moving(m, false);
  int calls = 0;
  torch::jit::Module other("__torch__.test.Other");
  other.register_attribute("training", c10::BoolType::get(), false);
  other.register_parameter("w", at::randn({10, 144}), false);
  other.define(R"(
def forward(self, x):
    return torch.linear(torch.flatten(x, 1), self.w)
)");
  auto freeze_at = [&](double a, double b) {
    moving.Move(a, b);
    return torch::jit::freeze(++calls == 3 ? other : m);  // one freeze comes back with another graph
  };
  auto basis = FrozenBasis::Create(freeze_at, false, {});
  ASSERT_FALSE(basis.ok());
  EXPECT_NE(basis.status().message().find("tensor constants at"), std::string::npos) << basis.status().message();
}

TEST(FrozenBasis, RefusesGraphsThatStillReadTheModule) {
  at::manual_seed(7);
  torch::jit::Module m = TrainedLookingResNet20(12, 5);
  auto freeze_at = [&](double, double) { return m; };  // not frozen: weights read as attributes
  auto basis = FrozenBasis::Create(freeze_at, true, {});
  ASSERT_FALSE(basis.ok());
  EXPECT_NE(basis.status().message().find("reads module attributes"), std::string::npos) << basis.status().message();
}

TEST(FrozenBasis, StoresReducedPrecisionConstantsRoundedOnceAndChannelsLast) {
  at::manual_seed(8);
  torch::jit::Module m = TrainedLookingResNet20(12, 5);
  Moving moving(m, false);
  auto freeze_at = [&](double a, double b) {
    moving.Move(a, b);
    return torch::jit::freeze(m);
  };
  FrozenBasis::Options o;
  o.dtype = at::kBFloat16;
  o.channels_last = true;
  auto basis = FrozenBasis::Create(freeze_at, true, o);
  ASSERT_TRUE(basis.ok()) << basis.status().ToString();
  int convs = 0;
  for (torch::jit::Node* n : (*basis)->module().get_method("forward").graph()->nodes()) {
    if (n->kind() != c10::prim::Constant || !n->hasAttribute(c10::attr::value) ||
        n->kindOf(c10::attr::value) != torch::jit::AttributeKind::t) {
      continue;
    }
    const at::Tensor& t = n->t(c10::attr::value);
    if (!at::isFloatingType(t.scalar_type())) continue;
    EXPECT_EQ(t.scalar_type(), at::kBFloat16);
    if (t.dim() == 4) {
      ++convs;
      EXPECT_TRUE(t.is_contiguous(at::MemoryFormat::ChannelsLast));
    }
  }
  EXPECT_EQ(convs, 21);  // ResNet-20: 19 3x3 convolutions and 2 projection shortcuts
  c10::InferenceMode guard;
  const at::Tensor x = at::randn({6, 1, 12, 12});
  const at::Tensor xb = x.to(at::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
  (*basis)->Set(0.6, -0.3);
  const at::Tensor got = (*basis)->module().forward({xb}).toTensor();
  EXPECT_EQ(got.scalar_type(), at::kBFloat16);
  torch::jit::Module ref = freeze_at(0.6, -0.3);
  EXPECT_LT(RelDiff(got, ref.forward({x}).toTensor()), 3e-2);  // bfloat16's 8 bits through 20 layers
}

TEST(CapturedWork, SaysWhyWithoutCuda) {
  if (CudaGraphsBuilt()) GTEST_SKIP() << "a CUDA build: the GPU benchmark (bench/gpu.sh) exercises the capture";
  auto c = CapturedWork::Capture(0, [] {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), core::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace landscape::engine
