// SplitAtFirstLayer: where it cuts a model, that head and tail compose to the
// forward pass, that the head is linear in the layer's weights, and the models
// it must refuse.
#include <gtest/gtest.h>
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/script.h>

#include "first_layer.h"

namespace landscape::engine {
namespace {

torch::jit::Module Model(const std::string& source, bool scale = false) {
  torch::jit::Module m("__torch__.test.Model");
  m.register_attribute("training", c10::BoolType::get(), false);
  at::manual_seed(7);
  m.register_parameter("w1", at::randn({5, 12}), false);
  m.register_parameter("b1", at::randn({5}), false);
  m.register_parameter("w2", at::randn({3, 5}), false);
  m.register_parameter("c1", at::randn({4, 1, 3, 3}), false);
  if (scale) m.register_buffer("scale", at::full({1}, 2.0));
  m.define(source);
  return m;
}

at::Tensor Forward(torch::jit::Module& m, const at::Tensor& x) { return m.forward({x}).toTensor(); }

TEST(FirstLayer, SplitsAnMlpAfterItsFlatten) {
  auto m = Model(R"(
def forward(self, x):
    out = torch.flatten(x, 1)
    out = torch.relu(torch.linear(out, self.w1, self.b1))
    return torch.linear(out, self.w2, None)
)");
  auto split = SplitAtFirstLayer(m);
  ASSERT_TRUE(split.ok()) << split.status().ToString();
  EXPECT_EQ(split->layer, "w1 (aten::linear)");
  EXPECT_TRUE(split->weight.is_same(m.attr("w1").toTensor()));
  EXPECT_TRUE(split->bias.is_same(m.attr("b1").toTensor()));
  const at::Tensor x = at::randn({6, 3, 2, 2});
  const at::Tensor h = RunPart(*split->head, m, x);
  // The head is the layer by hand; head then tail is the forward pass.
  EXPECT_TRUE(at::allclose(h, at::matmul(x.reshape({6, 12}), m.attr("w1").toTensor().t()) + m.attr("b1").toTensor()));
  EXPECT_TRUE(at::allclose(RunPart(*split->tail, m, h), Forward(m, x)));
}

TEST(FirstLayer, TheHeadIsLinearInTheLayersWeights) {
  auto m = Model(R"(
def forward(self, x):
    out = torch.relu(torch.conv2d(x, self.c1, None, [1, 1], [1, 1]))
    return torch.linear(torch.flatten(out, 1)[:, 0:12], self.w1, self.b1)
)");
  auto split = SplitAtFirstLayer(m);
  ASSERT_TRUE(split.ok()) << split.status().ToString();
  EXPECT_FALSE(split->bias.defined());
  const at::Tensor x = at::randn({4, 1, 5, 5});
  at::Tensor w = m.attr("c1").toTensor();
  const at::Tensor w0 = w.clone(), d = at::randn(w.sizes()), e = at::randn(w.sizes());
  auto head_with = [&](const at::Tensor& value) {
    at::NoGradGuard g;
    w.copy_(value);
    return RunPart(*split->head, m, x);
  };
  const double a = 0.7, b = -1.3;
  const at::Tensor combined = head_with(w0) + a * head_with(d) + b * head_with(e);
  const at::Tensor direct = head_with(w0 + a * d + b * e);
  EXPECT_TRUE(at::allclose(combined, direct, 1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(RunPart(*split->tail, m, direct), Forward(m, x), 1e-5, 1e-5));
}

TEST(FirstLayer, RefusesModelsWhereTheCutIsNotExact) {
  struct Case {
    std::string source, why;
    bool scale = false;
  };
  const std::vector<Case> cases = {
      {R"(
def forward(self, x):
    out = torch.flatten(x, 1)
    return torch.linear(out, self.w1, self.b1) + out[:, 0:5]
)",
       "reads its input again"},
      {R"(
def forward(self, x):
    out = torch.flatten(x, 1) * self.scale
    return torch.linear(out, self.w1, self.b1)
)",
       "no linear or convolution layer reads the input directly", true},
      {R"(
def forward(self, x):
    return torch.linear(torch.flatten(x, 1), self.w1 * 2.0, self.b1)
)",
       "weight is not an attribute"},
      {R"(
def forward(self, x):
    return torch.relu(torch.flatten(x, 1))
)",
       "no linear or convolution layer"},
  };
  for (const auto& c : cases) {
    auto m = Model(c.source, c.scale);
    auto split = SplitAtFirstLayer(m);
    ASSERT_FALSE(split.ok()) << c.source;
    EXPECT_NE(split.status().message().find(c.why), std::string::npos) << split.status().message();
  }
}

}  // namespace
}  // namespace landscape::engine
