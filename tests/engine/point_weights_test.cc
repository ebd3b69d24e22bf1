// PointWeights against the definition of a point: after Set(α, β) every tensor the directions cover
// holds θ0 + α·dx + β·dy computed directly from copies of the model's tensors (integer entries
// θ0 + trunc(α·dx + β·dy), as the reference casts), in the model's own tensors (the module sees them);
// SetTerm sets one term alone; bad direction sets are refused with the field and the likely mistake.
#include <gtest/gtest.h>
#include <torch/script.h>

#include <vector>

#include "evaluator.h"
#include "model_io.h"
#include "point_weights.h"
#include "zoo.h"

namespace landscape::engine {
namespace {

torch::jit::Module SmallResNet() {
  auto built = BuildArchitecture("resnet20", {1, 8, 8}, 10, 3);
  EXPECT_TRUE(built.ok()) << built.status().ToString();
  torch::jit::Module m = *built;
  m.eval();
  return m;
}

// Directions for every tensor of `type`: random for floats, small integers for integer entries.
io::DirectionSet RandomDirections(const torch::jit::Module& m, core::DirType type, bool two_d) {
  io::DirectionSet d;
  for (const NamedTensor& nt : CollectTensors(m, type)) {
    const at::Tensor& t = nt.tensor;
    auto make = [&] {
      return at::isFloatingType(t.scalar_type()) ? at::randn(t.sizes()) : at::randint(-3, 4, t.sizes(), at::kLong);
    };
    d.x.push_back(ToHost(make()));
    if (two_d) d.y.push_back(ToHost(make()));
  }
  return d;
}

at::Tensor Expected(const at::Tensor& theta0, const io::HostArray& dx, const io::HostArray* dy, double alpha,
                    double beta) {
  if (!at::isFloatingType(theta0.scalar_type())) {
    at::Tensor change = FromHost(dx, at::kFloat, c10::Device(c10::kCPU), theta0.sizes()) * alpha;
    if (dy) change.add_(FromHost(*dy, at::kFloat, c10::Device(c10::kCPU), theta0.sizes()), beta);
    return theta0 + change.to(theta0.scalar_type());
  }
  at::Tensor v = theta0.to(at::kDouble) +
                 FromHost(dx, at::kDouble, c10::Device(c10::kCPU), theta0.sizes()) * alpha;
  if (dy) v.add_(FromHost(*dy, at::kDouble, c10::Device(c10::kCPU), theta0.sizes()), beta);
  return v;
}

TEST(PointWeights, SetGivesThetaPlusAlphaDxPlusBetaDyInTheModelsTensors) {
  torch::manual_seed(1);
  for (core::DirType type : {core::DirType::kWeights, core::DirType::kStates}) {
    for (bool two_d : {false, true}) {
      torch::jit::Module m = SmallResNet();
      const io::DirectionSet dirs = RandomDirections(m, type, two_d);
      std::vector<at::Tensor> theta0;
      int64_t count = 0;
      for (const NamedTensor& nt : CollectTensors(m, type)) {
        theta0.push_back(nt.tensor.detach().clone());
        count += nt.tensor.numel();
      }
      PointWeights w;
      ASSERT_TRUE(w.Init(m, type, dirs, c10::Device(c10::kCPU)).ok());
      EXPECT_EQ(w.two_d(), two_d);
      EXPECT_EQ(w.parameter_count(), count);
      for (auto [alpha, beta] : {std::pair{0.5, -0.25}, std::pair{-1.5, 2.0}, std::pair{0.0, 0.0}}) {
        w.Set(alpha, beta);
        // Read back through the module: its tensors are the ones set.
        const std::vector<NamedTensor> now = CollectTensors(m, type);
        ASSERT_EQ(now.size(), theta0.size());
        for (size_t i = 0; i < now.size(); ++i) {
          const at::Tensor want = Expected(theta0[i], dirs.x[i], two_d ? &dirs.y[i] : nullptr, alpha, beta);
          if (at::isFloatingType(theta0[i].scalar_type())) {
            const double diff = (now[i].tensor.to(at::kDouble) - want).abs().max().item<double>();
            EXPECT_LE(diff, 1e-5 * (1.0 + want.abs().max().item<double>())) << now[i].name;
            EXPECT_TRUE(w.InFloat32Buffer(now[i].tensor)) << now[i].name;
          } else {
            EXPECT_TRUE(at::equal(now[i].tensor, want)) << now[i].name;
          }
        }
      }
      EXPECT_TRUE(w.InFloat32Buffer(at::Tensor()));
      EXPECT_FALSE(w.InFloat32Buffer(at::zeros({4})));
    }
  }
}

TEST(PointWeights, SetTermSetsOneTermAndTheta0Restores) {
  torch::manual_seed(2);
  torch::jit::Module m = SmallResNet();
  const io::DirectionSet dirs = RandomDirections(m, core::DirType::kWeights, true);
  std::vector<at::Tensor> theta0;
  for (const NamedTensor& nt : CollectTensors(m, core::DirType::kWeights)) theta0.push_back(nt.tensor.detach().clone());
  PointWeights w;
  ASSERT_TRUE(w.Init(m, core::DirType::kWeights, dirs, c10::Device(c10::kCPU)).ok());
  const std::vector<NamedTensor> tensors = CollectTensors(m, core::DirType::kWeights);
  w.SetTerm(PointWeights::Term::kDx);
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_TRUE(at::equal(tensors[i].tensor, FromHost(dirs.x[i], at::kFloat, c10::Device(c10::kCPU), theta0[i].sizes())));
  }
  w.SetTerm(PointWeights::Term::kDy);
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_TRUE(at::equal(tensors[i].tensor, FromHost(dirs.y[i], at::kFloat, c10::Device(c10::kCPU), theta0[i].sizes())));
  }
  w.SetTerm(PointWeights::Term::kTheta0);
  for (size_t i = 0; i < tensors.size(); ++i) EXPECT_TRUE(at::equal(tensors[i].tensor, theta0[i]));
}

TEST(PointWeights, RefusesDirectionsOfTheOtherDirTypeOrShape) {
  torch::manual_seed(3);
  torch::jit::Module m = SmallResNet();
  // Directions over the parameters only, given as states: the message names the dir_type they fit.
  const io::DirectionSet weights_dirs = RandomDirections(m, core::DirType::kWeights, false);
  PointWeights w;
  core::Status st = w.Init(m, core::DirType::kStates, weights_dirs, c10::Device(c10::kCPU));
  EXPECT_EQ(st.code(), core::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.field(), "directions");
  EXPECT_NE(st.message().find("made with dir_type weights"), std::string::npos) << st.message();

  // Right count, one tensor of another size.
  io::DirectionSet wrong = RandomDirections(m, core::DirType::kWeights, false);
  wrong.x[2] = ToHost(at::randn({3}));
  PointWeights w2;
  st = w2.Init(m, core::DirType::kWeights, wrong, c10::Device(c10::kCPU));
  EXPECT_EQ(st.code(), core::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.field(), "directions");
  EXPECT_NE(st.message().find("direction tensor 2"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace landscape::engine
