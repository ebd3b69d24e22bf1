// OnednnNet against LibTorch's own forward pass of the same frozen graph: what it fuses, that it agrees
// to Winograd's rounding (1e-4 of the outputs' scale), that it reloads weights per point, that lanes run
// concurrently, and the models it must hand back (or refuse).
#include <gtest/gtest.h>
#include <torch/csrc/jit/passes/freeze_module.h>
#include <torch/script.h>

#include <thread>

#include "onednn_net.h"
#include "test_models.h"

namespace landscape::engine {
namespace {

using testing_models::RelDiff;
using testing_models::TrainedLookingResNet20;

std::shared_ptr<torch::jit::Graph> FrozenGraph(torch::jit::Module& m, torch::jit::Module* frozen_out = nullptr) {
  torch::jit::Module frozen = torch::jit::freeze(m);
  if (frozen_out) *frozen_out = frozen;
  return frozen.get_method("forward").graph();
}

// Skips the test where the engine was built without oneDNN's headers.
#define SKIP_WITHOUT_ONEDNN(result)                                                              \
  if (!(result).ok() && (result).status().message().find("built without") != std::string::npos) \
  GTEST_SKIP() << (result).status().message()

TEST(OnednnNet, RunsAResNetWithItsAdditionsAndReluFusedAndAgreesWithLibTorch) {
  at::manual_seed(3);
  torch::jit::Module m = TrainedLookingResNet20(28, 11);
  torch::jit::Module frozen;
  auto graph = FrozenGraph(m, &frozen);
  auto net = OnednnNet::Create(graph, {1, 28, 28}, {8, 5}, {true, 2});
  SKIP_WITHOUT_ONEDNN(net);
  ASSERT_TRUE(net.ok()) << net.status().ToString();
  const std::string d = (*net)->Description();
  // 19 convolutions in the blocks and the stem, 2 projection shortcuts; every block's addition and every
  // ReLU fused; the mean, flatten and linear layer after them in LibTorch.
  EXPECT_NE(d.find("21 convolutions"), std::string::npos) << d;
  EXPECT_NE(d.find("and 0 max-poolings, with 19 ReLUs and 9 residual additions fused, then 2 operations"),
            std::string::npos)
      << d;
  c10::InferenceMode guard;
  for (int64_t batch : {8, 5}) {
    const at::Tensor x = at::randn({batch, 1, 28, 28});
    const at::Tensor ref = frozen.forward({x}).toTensor();
    for (size_t lane : {0, 1}) {
      const at::Tensor got = (*net)->Forward(x, lane);
      ASSERT_EQ(got.sizes(), ref.sizes());
      EXPECT_LT(RelDiff(got, ref), 1e-4) << "batch " << batch << " lane " << lane;
    }
  }
}

TEST(OnednnNet, RunsTheConvolutionsInChunksThatFitTheCaches) {
  at::manual_seed(6);
  torch::jit::Module m = TrainedLookingResNet20(28, 11);
  torch::jit::Module frozen;
  auto graph = FrozenGraph(m, &frozen);
  OnednnNet::Options o;
  o.max_activation_bytes = 3 * 16 * 28 * 28 * 4;  // ResNet-20's largest activation, 3 samples of it
  auto net = OnednnNet::Create(graph, {1, 28, 28}, {8}, o);
  SKIP_WITHOUT_ONEDNN(net);
  ASSERT_TRUE(net.ok()) << net.status().ToString();
  EXPECT_NE((*net)->Description().find("chunks of 3 samples"), std::string::npos) << (*net)->Description();
  c10::InferenceMode guard;
  const at::Tensor x = at::randn({8, 1, 28, 28});  // chunks of 3, 3 and 2
  EXPECT_LT(RelDiff((*net)->Forward(x, 0), frozen.forward({x}).toTensor()), 1e-4);
}

TEST(OnednnNet, RunsABfloat16ResNetWithinItsRounding) {
  at::manual_seed(8);
  torch::jit::Module m = TrainedLookingResNet20(28, 11);
  const at::Tensor x = at::randn({6, 1, 28, 28});
  at::Tensor ref;
  {
    c10::InferenceMode guard;
    ref = torch::jit::freeze(m).forward({x}).toTensor();  // float32
  }
  torch::jit::Module reduced = m.deepcopy();
  reduced.to(at::kBFloat16);
  OnednnNet::Options o;
  o.dtype = at::kBFloat16;
  auto net = OnednnNet::Create(FrozenGraph(reduced), {1, 28, 28}, {6}, o);
  SKIP_WITHOUT_ONEDNN(net);
  ASSERT_TRUE(net.ok()) << net.status().ToString();
  EXPECT_NE((*net)->Description().find("21 convolutions (0 Winograd)"), std::string::npos) << (*net)->Description();
  c10::InferenceMode guard;
  const at::Tensor got = (*net)->Forward(x.to(at::kBFloat16), 0);
  EXPECT_EQ(got.scalar_type(), at::kBFloat16);
  EXPECT_LT(RelDiff(got.to(at::kFloat), ref), 3e-2);
}

TEST(OnednnNet, LoadsEachPointsWeights) {
  at::manual_seed(4);
  torch::jit::Module m = TrainedLookingResNet20(28, 11);
  auto net = OnednnNet::Create(FrozenGraph(m), {1, 28, 28}, {6}, {true, 1});
  SKIP_WITHOUT_ONEDNN(net);
  ASSERT_TRUE(net.ok()) << net.status().ToString();
  const at::Tensor x = at::randn({6, 1, 28, 28});
  at::Tensor before;
  {
    c10::InferenceMode guard;
    before = (*net)->Forward(x, 0);
  }
  {
    at::NoGradGuard g;
    for (const at::Tensor& p : m.parameters()) p.add_(at::randn(p.sizes()) * 0.05 * p.abs().mean());
  }
  torch::jit::Module frozen;
  auto graph = FrozenGraph(m, &frozen);
  ASSERT_TRUE((*net)->SetWeights(graph).ok());
  c10::InferenceMode guard;
  const at::Tensor ref = frozen.forward({x}).toTensor();
  const at::Tensor after = (*net)->Forward(x, 0);
  EXPECT_LT(RelDiff(after, ref), 1e-4);
  EXPECT_GT(RelDiff(before, ref), 1e-3) << "the new weights made no difference";
}

TEST(OnednnNet, LanesRunConcurrentlyOnTheirOwnBuffers) {
  at::manual_seed(5);
  torch::jit::Module m = TrainedLookingResNet20(28, 11);
  torch::jit::Module frozen;
  auto net = OnednnNet::Create(FrozenGraph(m, &frozen), {1, 28, 28}, {4}, {true, 2});
  SKIP_WITHOUT_ONEDNN(net);
  ASSERT_TRUE(net.ok()) << net.status().ToString();
  const at::Tensor x0 = at::randn({4, 1, 28, 28}), x1 = at::randn({4, 1, 28, 28});
  at::Tensor ref0, ref1;
  {
    c10::InferenceMode guard;
    ref0 = frozen.forward({x0}).toTensor();
    ref1 = frozen.forward({x1}).toTensor();
  }
  double worst0 = 0, worst1 = 0;
  auto run = [&](size_t lane, const at::Tensor& x, const at::Tensor& ref, double* worst) {
    c10::InferenceMode guard;
    for (int i = 0; i < 20; ++i) *worst = std::max(*worst, RelDiff((*net)->Forward(x, lane), ref));
  };
  std::thread t0(run, 0, std::cref(x0), std::cref(ref0), &worst0);
  std::thread t1(run, 1, std::cref(x1), std::cref(ref1), &worst1);
  t0.join();
  t1.join();
  EXPECT_LT(worst0, 1e-4);
  EXPECT_LT(worst1, 1e-4);
}

torch::jit::Module Scripted(const std::string& source) {
  torch::jit::Module m("__torch__.test.Net");
  m.register_attribute("training", c10::BoolType::get(), false);
  at::manual_seed(9);
  m.register_parameter("c1", at::randn({4, 3, 3, 3}) * 0.3, false);
  m.register_parameter("b1", at::randn({4}), false);
  m.register_parameter("c2", at::randn({5, 4, 3, 3}) * 0.3, false);
  m.register_parameter("c3", at::randn({4, 4, 1, 1}) * 0.3, false);
  m.register_parameter("c4", at::randn({4, 4, 1, 1}) * 0.3, false);
  m.register_parameter("w", at::randn({3, 5 * 3 * 3}) * 0.1, false);
  m.define(source);
  m.eval();
  return m;
}

TEST(OnednnNet, HandsWhatItCannotTakeToLibTorchNodeByNode) {
  // The first convolution, its ReLU and a max-pooling on oneDNN; from the sigmoid on (not taken) LibTorch
  // runs the rest: sigmoid, a strided convolution, flatten, linear.
  const std::string source = R"(
def forward(self, x):
    out = torch.relu(torch.conv2d(x, self.c1, self.b1, [1, 1], [1, 1]))
    out = torch.sigmoid(torch.max_pool2d(out, [2, 2]))
    out = torch.conv2d(out, self.c2, None, [2, 2], [1, 1])
    return torch.linear(torch.flatten(out, 1), self.w, None)
)";
  torch::jit::Module m = Scripted(source);
  torch::jit::Module frozen;
  auto net = OnednnNet::Create(FrozenGraph(m, &frozen), {3, 11, 11}, {3}, {true, 1});
  SKIP_WITHOUT_ONEDNN(net);
  ASSERT_TRUE(net.ok()) << net.status().ToString();
  const std::string d = (*net)->Description();
  EXPECT_NE(d.find("1 convolutions (0 Winograd) and 1 max-poolings, with 1 ReLUs and 0 residual additions fused, "
                   "then 4 operations"),
            std::string::npos)
      << d;
  c10::InferenceMode guard;
  const at::Tensor x = at::randn({3, 3, 11, 11});
  EXPECT_LT(RelDiff((*net)->Forward(x, 0), frozen.forward({x}).toTensor()), 1e-5);
  // Asked to take every convolution (as the evaluator's auto mode does), it declines this model.
  OnednnNet::Options all;
  all.require_all_convolutions = true;
  auto strict = OnednnNet::Create(FrozenGraph(m), {3, 11, 11}, {3}, all);
  ASSERT_FALSE(strict.ok());
  EXPECT_NE(strict.status().message().find("1 of the model's convolutions come after a node"), std::string::npos)
      << strict.status().ToString();
}

TEST(OnednnNet, RunsACnnWithMaxPoolingEntirely) {
  torch::jit::Module m = Scripted(R"(
def forward(self, x):
    out = torch.max_pool2d(torch.relu(torch.conv2d(x, self.c1, self.b1, [1, 1], [1, 1])), [2, 2])
    out = torch.max_pool2d(torch.relu(torch.conv2d(out, self.c2, None, [1, 1], [1, 1])), [3, 3], [2, 2], [1, 1])
    return torch.linear(torch.flatten(out, 1), self.w, None)
)");
  torch::jit::Module frozen;
  auto net = OnednnNet::Create(FrozenGraph(m, &frozen), {3, 11, 11}, {4}, {true, 1});
  SKIP_WITHOUT_ONEDNN(net);
  ASSERT_TRUE(net.ok()) << net.status().ToString();
  const std::string d = (*net)->Description();
  EXPECT_NE(d.find("2 convolutions (0 Winograd) and 2 max-poolings, with 2 ReLUs and 0 residual additions fused, "
                   "then 2 operations"),
            std::string::npos)
      << d;
  c10::InferenceMode guard;
  const at::Tensor x = at::randn({4, 3, 11, 11});
  EXPECT_LT(RelDiff((*net)->Forward(x, 0), frozen.forward({x}).toTensor()), 1e-5);
}

TEST(OnednnNet, AnAdditionWhoseResidualIsReadLaterIsNotFusedInPlace) {
  // `a` is read again after the addition: writing the sum into its buffer would corrupt that read.
  torch::jit::Module m = Scripted(R"(
def forward(self, x):
    a = torch.relu(torch.conv2d(x, self.c1, self.b1, [1, 1], [1, 1]))
    b = torch.relu(torch.conv2d(a, self.c3, None, [1, 1], [0, 0]))
    s = torch.conv2d(b, self.c4, None, [1, 1], [0, 0]) + a
    t = torch.relu(s) * a
    return torch.linear(torch.flatten(t[:, 0:1, 0:5, 0:9], 1), self.w, None)
)");
  torch::jit::Module frozen;
  auto net = OnednnNet::Create(FrozenGraph(m, &frozen), {3, 11, 11}, {2}, {true, 1});
  SKIP_WITHOUT_ONEDNN(net);
  ASSERT_TRUE(net.ok()) << net.status().ToString();
  EXPECT_NE((*net)->Description().find("3 convolutions (0 Winograd) and 0 max-poolings, with 2 ReLUs and 0 residual "
                                       "additions"),
            std::string::npos)
      << (*net)->Description();
  c10::InferenceMode guard;
  const at::Tensor x = at::randn({2, 3, 11, 11});
  EXPECT_LT(RelDiff((*net)->Forward(x, 0), frozen.forward({x}).toTensor()), 1e-5);
}

TEST(OnednnNet, RefusesModelsThatDoNotStartWithAConvolution) {
  torch::jit::Module m = Scripted(R"(
def forward(self, x):
    return torch.linear(torch.flatten(x, 1)[:, 0:45], self.w, None)
)");
  auto net = OnednnNet::Create(FrozenGraph(m), {3, 11, 11}, {2}, {true, 1});
  SKIP_WITHOUT_ONEDNN(net);
  ASSERT_FALSE(net.ok());
  EXPECT_EQ(net.status().code(), core::StatusCode::kUnimplemented);
  EXPECT_NE(net.status().message().find("does not start with a convolution"), std::string::npos)
      << net.status().ToString();
}

}  // namespace
}  // namespace landscape::engine
