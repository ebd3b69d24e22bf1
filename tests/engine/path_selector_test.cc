// The path selector (path_selector.h) behind PointEvaluator: each pinned option set runs the path it
// names (PathChoice), and on every path a point's loss and accuracy are the definition's: a copy of the
// model with θ0 + α·dx + β·dy set by hand, its summed cross-entropy over the data divided by the samples,
// and the share of argmax hits.
#include <gtest/gtest.h>
#include <ATen/Parallel.h>
#include <torch/script.h>

#include <cmath>
#include <string>
#include <vector>

#include "evaluator.h"
#include "model_io.h"
#include "zoo.h"

namespace landscape::engine {
namespace {

constexpr int64_t kSamples = 100;  // three full batches of 32 and one of 4

torch::jit::Module SmallResNet() {
  auto built = BuildArchitecture("resnet20", {1, 8, 8}, 10, 3);
  EXPECT_TRUE(built.ok()) << built.status().ToString();
  torch::jit::Module m = *built;
  m.eval();
  return m;
}

io::DirectionSet RandomDirections(const torch::jit::Module& m) {
  io::DirectionSet d;
  for (const NamedTensor& nt : CollectTensors(m, core::DirType::kWeights)) {
    d.x.push_back(ToHost(at::randn(nt.tensor.sizes()) * 0.05));
    d.y.push_back(ToHost(at::randn(nt.tensor.sizes()) * 0.05));
  }
  return d;
}

// The definition at (alpha, beta), on `model` (a copy of the evaluator's, never given to it).
std::pair<double, double> Reference(torch::jit::Module& model, const io::DirectionSet& dirs, const Dataset& data,
                                    double alpha, double beta) {
  torch::jit::Module m = model.deepcopy();
  c10::InferenceMode guard;
  const std::vector<NamedTensor> tensors = CollectTensors(m, core::DirType::kWeights);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const at::Tensor& t = tensors[i].tensor;
    const at::Tensor dx = FromHost(dirs.x[i], at::kDouble, c10::Device(c10::kCPU), t.sizes());
    const at::Tensor dy = FromHost(dirs.y[i], at::kDouble, c10::Device(c10::kCPU), t.sizes());
    t.copy_(t.to(at::kDouble) + dx * alpha + dy * beta);
  }
  const at::Tensor out = m.forward({data.images}).toTensor();
  const double loss = at::cross_entropy_loss(out, data.labels, {}, at::Reduction::Sum).item<double>();
  const double hits = static_cast<double>(out.argmax(1).eq(data.labels).sum().item<int64_t>());
  return {loss / kSamples, 100.0 * hits / kSamples};
}

EvalOptions AllOff() {
  EvalOptions o;
  o.batch_size = 32;
  o.optimize = false;
  o.first_layer = EvalOptions::Choice::kOff;
  o.data_parallel = EvalOptions::Choice::kOff;
  o.onednn = EvalOptions::Choice::kOff;
  o.cuda_graphs = EvalOptions::Choice::kOff;
  return o;
}

struct Case {
  std::string path;  // the path the options pin
  EvalOptions options;
  double loss_tolerance;  // relative: the path's rounding (Winograd convolutions round differently)
};

std::vector<Case> Cases() {
  std::vector<Case> cases;
  cases.push_back({"module", AllOff(), 1e-5});
  EvalOptions fitted = AllOff();
  fitted.optimize = true;
  fitted.cuda_graphs = EvalOptions::Choice::kOn;  // CPUs: the fitted constants, no CUDA graphs
  cases.push_back({"fitted", fitted, 1e-4});
  EvalOptions first = AllOff();
  first.first_layer = EvalOptions::Choice::kOn;
  cases.push_back({"first_layer", first, 1e-5});
  EvalOptions lanes = first;
  lanes.data_parallel = EvalOptions::Choice::kOn;
  cases.push_back({"first_layer", lanes, 1e-5});
  EvalOptions onednn = AllOff();
  onednn.optimize = true;
  onednn.onednn = EvalOptions::Choice::kOn;
  cases.push_back({"onednn", onednn, 1e-3});
  EvalOptions frozen = AllOff();
  frozen.optimize = true;  // kept only when measured faster than the module: either path is right
  cases.push_back({"frozen", frozen, 1e-4});
  return cases;
}

TEST(PathSelector, EachPinnedPathRunsAndGivesTheDefinitionsValues) {
  ConfigureTorchRuntime(EngineOptions{});  // as engines run: no TensorExpr fuser compiling kernels
  at::set_num_threads(2);
  torch::manual_seed(5);
  torch::jit::Module model = SmallResNet();
  const io::DirectionSet dirs = RandomDirections(model);
  Dataset data;
  data.images = at::randn({kSamples, 1, 8, 8});
  data.labels = at::randint(0, 10, {kSamples}, at::kLong);
  const std::vector<std::pair<double, double>> points = {{0.0, 0.0}, {0.5, -0.25}, {-1.0, 1.0}};
  std::vector<std::pair<double, double>> expected;
  for (auto [a, b] : points) expected.push_back(Reference(model, dirs, data, a, b));

  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.path + " lanes " + std::to_string(static_cast<int>(c.options.data_parallel)));
    std::vector<PointEvaluator::Split> splits{{data, true}};
    auto e = PointEvaluator::Create(model.deepcopy(), core::DirType::kWeights, dirs, splits, core::Loss::kCrossEntropy,
                                    c10::Device(c10::kCPU), c.options);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    const PathChoice& choice = (*e)->choice();
    if (c.path == "onednn" && !choice.onednn) {
      // A build without the engine's own primitives says why and runs on LibTorch's path.
      EXPECT_EQ(choice.onednn_note.rfind("off: ", 0), 0u) << choice.onednn_note;
    } else if (c.path == "frozen" && choice.path == "module") {
      EXPECT_EQ(choice.optimize_failure.rfind("off: ", 0), 0u) << choice.optimize_failure;
      EXPECT_FALSE(choice.optimized);
    } else {
      EXPECT_EQ(choice.path, c.path);
    }
    // The flags and the path name tell one story.
    EXPECT_EQ(choice.first_layer_cached, choice.path == "first_layer");
    EXPECT_EQ(choice.onednn, choice.path == "onednn");
    EXPECT_EQ(choice.constants_fitted, choice.path == "fitted" || choice.path == "cuda_graphs");
    EXPECT_FALSE(choice.cuda_graphs) << "no CUDA graphs on CPUs";
    EXPECT_EQ(choice.batch_size, 32);
    EXPECT_EQ(choice.lanes, c.options.data_parallel == EvalOptions::Choice::kOn ? 2 : 1);
    for (size_t i = 0; i < points.size(); ++i) {
      auto v = (*e)->Evaluate(points[i].first, points[i].second);
      ASSERT_TRUE(v.ok()) << v.status().ToString();
      EXPECT_NEAR(v->train_loss, expected[i].first, c.loss_tolerance * std::fabs(expected[i].first)) << i;
      // Rounding may move one sample across an argmax tie at most.
      EXPECT_NEAR(v->train_acc, expected[i].second, 100.0 / kSamples + 1e-9) << i;
    }
  }
}

TEST(PathSelector, WithoutAChoiceEveryNoteSaysWhyThePathIsOff) {
  ConfigureTorchRuntime(EngineOptions{});
  torch::manual_seed(6);
  torch::jit::Module model = SmallResNet();
  const io::DirectionSet dirs = RandomDirections(model);
  Dataset data;
  data.images = at::randn({kSamples, 1, 8, 8});
  data.labels = at::randint(0, 10, {kSamples}, at::kLong);
  std::vector<PointEvaluator::Split> splits{{data, true}};
  EvalOptions o = AllOff();
  o.first_layer = EvalOptions::Choice::kAuto;  // measured: taken or not, its note says which
  auto e = PointEvaluator::Create(model, core::DirType::kWeights, dirs, splits, core::Loss::kCrossEntropy,
                                  c10::Device(c10::kCPU), o);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  const PathChoice& choice = (*e)->choice();
  EXPECT_EQ(choice.onednn_note, "off: --onednn off");
  EXPECT_EQ(choice.cuda_graphs_note, "off: --cuda-graphs off");
  EXPECT_FALSE(choice.optimized);
  if (choice.path == "first_layer") {
    EXPECT_EQ(choice.optimize_failure.rfind("off: the first layer is cached", 0), 0u) << choice.optimize_failure;
  } else {
    EXPECT_EQ(choice.path, "module");
    EXPECT_TRUE(choice.optimize_failure.empty()) << "--no-optimize is not a failure";
    EXPECT_EQ(choice.first_layer_note.rfind("off: ", 0), 0u) << choice.first_layer_note;
  }
}

}  // namespace
}  // namespace landscape::engine
