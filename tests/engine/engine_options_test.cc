// Engine options that change how points are evaluated, never what they are:
// a check-only engine (a job's prepare step) agrees with a fully measured one.
#include <gtest/gtest.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/script.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "landscape/engine/engine.h"
#include "process.h"

namespace landscape::engine {
namespace {

// A small convolutional model saved as TorchScript, for 1x6x6 inputs and 10 classes.
std::string SaveModel(const std::string& dir) {
  torch::jit::Module m("__torch__.test.Net");
  m.register_attribute("training", c10::BoolType::get(), false);
  at::manual_seed(3);
  m.register_parameter("c1", at::randn({4, 1, 3, 3}) * 0.5, false);
  m.register_parameter("b1", at::randn({4}) * 0.1, false);
  m.register_parameter("w2", at::randn({10, 144}) * 0.1, false);
  m.register_parameter("b2", at::randn({10}) * 0.1, false);
  m.define(R"(
def forward(self, x):
    h = torch.relu(torch.conv2d(x, self.c1, self.b1, [1, 1], [1, 1]))
    return torch.linear(torch.flatten(h, 1), self.w2, self.b2)
)");
  const std::string path = dir + "/net.pt";
  m.save(path);
  return path;
}

core::JobSpec Spec(const std::string& model) {
  core::JobSpec spec;
  spec.model.model = model;
  spec.data.source = "synthetic:96:1x6x6:10";
  spec.data.batch_size = 32;
  spec.grid.x = core::AxisSpec{-1, 1, 3};
  spec.grid.y = core::AxisSpec{-1, 1, 3};
  return spec;
}

// Both engines give the same loss (to float32 rounding) and accuracy at every (α, β) of `points`.
void ExpectSameValues(Engine& a, Engine& b, const std::vector<std::pair<double, double>>& points) {
  for (auto [alpha, beta] : points) {
    auto va = a.Evaluate(alpha, beta);
    auto vb = b.Evaluate(alpha, beta);
    ASSERT_TRUE(va.ok() && vb.ok());
    EXPECT_NEAR(vb->train_loss, va->train_loss, 1e-5 * std::fabs(va->train_loss)) << alpha << "," << beta;
    EXPECT_DOUBLE_EQ(vb->train_acc, va->train_acc) << alpha << "," << beta;
  }
}

TEST(EngineOptions, ACheckOnlyEngineSkipsTheMeasurementsAndAgrees) {
  const testing::ScopedTempDir tmp("landscape-engine-options");
  const std::string& dir = tmp.path();
  const core::JobSpec spec = Spec(SaveModel(dir));
  EngineOptions full;
  full.threads = 2;
  full.first_layer = Toggle::kOn;  // a path the check-only engine must not take
  EngineOptions check = full;
  check.check_only = true;
  auto a = Engine::Create(spec, full);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = Engine::Create(spec, check);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_TRUE((*a)->info().first_layer_cached);
  EXPECT_FALSE((*b)->info().first_layer_cached);
  EXPECT_FALSE((*b)->info().optimized);
  EXPECT_EQ((*b)->info().lanes, 1);
  EXPECT_EQ((*b)->info().batch_size, 32);
  EXPECT_EQ((*b)->info().notes.count("optimization"), 0u) << "a skipped measurement is not a failure";
  ExpectSameValues(**a, **b, {{0.0, 0.0}, {0.7, -0.4}, {-1.0, 1.0}});
}

TEST(EngineOptions, OneFrozenGraphWithFittedConstantsAgreesWithFreezingPerPoint) {
  const testing::ScopedTempDir tmp("landscape-engine-options");
  const std::string& dir = tmp.path();
  const core::JobSpec spec = Spec(SaveModel(dir));
  EngineOptions per_point;
  per_point.threads = 1;
  per_point.first_layer = Toggle::kOff;
  per_point.cuda_graphs = Toggle::kOff;
  EngineOptions fitted = per_point;
  fitted.cuda_graphs = Toggle::kOn;  // on a CPU: the fitted graph without CUDA graphs
  auto a = Engine::Create(spec, per_point);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = Engine::Create(spec, fitted);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_FALSE((*a)->info().constants_fitted);
  ASSERT_TRUE((*b)->info().constants_fitted) << (*b)->info().notes.at("cuda_graphs");
  EXPECT_TRUE((*b)->info().optimized);
  EXPECT_FALSE((*b)->info().cuda_graphs);
  EXPECT_NE((*b)->info().notes.at("cuda_graphs").find("no CUDA graphs on CPUs"), std::string::npos);
  ExpectSameValues(**a, **b, {{0.0, 0.0}, {0.7, -0.4}, {-1.0, 1.0}, {3.0, 2.0}});
}

// DESIGN §2: CUDA when present, CPU otherwise. The expectation is LibTorch's own answer to
// "is there a usable GPU" (this machine: none, so "cpu"); a GPU machine checks the other branch.
TEST(EngineOptions, TheAutoDeviceIsCudaWhenPresentCpuOtherwise) {
  const std::string expected = at::hasCUDA() && at::detail::getCUDAHooks().getNumGPUs() > 0 ? "cuda:0" : "cpu";
  auto d = ResolveDevice("auto");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(*d, expected);
  EXPECT_EQ(EngineOptions().device, "auto");
  auto list = ExpandDevices("auto, cpu");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(*list, (std::vector<std::string>{expected, "cpu"}));
  EXPECT_EQ(*ResolveDevice("cpu"), "cpu");
  auto bad = ResolveDevice("tpu");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().field(), "device");
}

}  // namespace
}  // namespace landscape::engine
