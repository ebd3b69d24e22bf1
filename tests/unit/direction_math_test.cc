// The direction math against values worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "landscape/core/direction_math.h"
#include "landscape/core/rng.h"

namespace landscape::core {
namespace {

double RowNorm(const std::vector<float>& v, size_t row, size_t per) {
  double s = 0;
  for (size_t i = 0; i < per; ++i) s += double(v[row * per + i]) * v[row * per + i];
  return std::sqrt(s);
}

TEST(DirectionMath, FilterNormMatchesEachFilterOfTheWeights) {
  // θ = [[3, 4], [0, 5]]: both filters have norm 5. d = [[1, 0], [0, 2]].
  std::vector<float> theta{3, 4, 0, 5}, d{1, 0, 0, 2};
  NormalizeDirection({2, 2}, theta.data(), d.data(), Norm::kFilter, Ignore::kBiasBN);
  // Filter 0: [1, 0] * 5 / (1 + 1e-10); filter 1: [0, 2] * 5 / (2 + 1e-10).
  EXPECT_FLOAT_EQ(d[0], 5.0f);
  EXPECT_FLOAT_EQ(d[1], 0.0f);
  EXPECT_FLOAT_EQ(d[3], 5.0f);
  EXPECT_NEAR(RowNorm(d, 0, 2), 5.0, 1e-6);
  EXPECT_NEAR(RowNorm(d, 1, 2), 5.0, 1e-6);
}

TEST(DirectionMath, FilterNormOfConvolutionSlices) {
  // A conv weight [out=2, in=1, 2, 2]: a filter is one output channel's [1, 2, 2] slice.
  std::vector<float> theta{1, 1, 1, 1, 2, 0, 0, 0}, d{0, 0, 3, 4, 1, 1, 1, 1};
  NormalizeDirection({2, 1, 2, 2}, theta.data(), d.data(), Norm::kFilter, Ignore::kBiasBN);
  EXPECT_NEAR(RowNorm(d, 0, 4), 2.0, 1e-6);  // ||θ[0]|| = 2
  EXPECT_NEAR(RowNorm(d, 1, 4), 2.0, 1e-6);  // ||θ[1]|| = 2
  EXPECT_NEAR(d[2], 1.2, 1e-6);               // [0, 0, 3, 4] / 5 * 2
  EXPECT_NEAR(d[3], 1.6, 1e-6);
  EXPECT_NEAR(d[4], 1.0, 1e-6);               // [1, 1, 1, 1] / 2 * 2
}

TEST(DirectionMath, ZeroFilterStaysZero) {
  std::vector<float> theta{0, 0, 1, 0}, d{0.5, -0.5, 2, 0};
  NormalizeDirection({2, 2}, theta.data(), d.data(), Norm::kFilter, Ignore::kBiasBN);
  EXPECT_EQ(d[0], 0.0f);  // ||θ[0]|| = 0
  EXPECT_EQ(d[1], 0.0f);
  EXPECT_NEAR(d[2], 1.0, 1e-6);
}

TEST(DirectionMath, LayerNormScalesTheWholeTensor) {
  std::vector<float> theta{3, 4, 0, 0}, d{1, 1, 1, 1};  // ||θ|| = 5, ||d|| = 2
  NormalizeDirection({2, 2}, theta.data(), d.data(), Norm::kLayer, Ignore::kBiasBN);
  for (float v : d) EXPECT_FLOAT_EQ(v, 2.5f);
}

TEST(DirectionMath, WeightNormIsElementwiseProduct) {
  std::vector<float> theta{3, -4, 0.5, 2}, d{2, 0.5, 4, -1};
  NormalizeDirection({2, 2}, theta.data(), d.data(), Norm::kWeight, Ignore::kBiasBN);
  EXPECT_EQ(d, (std::vector<float>{6, -2, 2, -2}));
}

TEST(DirectionMath, DFilterAndDLayerGiveUnitNorms) {
  std::vector<float> theta{9, 9, 9, 9}, d{3, 4, 0, 2};
  NormalizeDirection({2, 2}, theta.data(), d.data(), Norm::kDFilter, Ignore::kBiasBN);
  EXPECT_NEAR(d[0], 0.6, 1e-7);
  EXPECT_NEAR(d[1], 0.8, 1e-7);
  EXPECT_NEAR(d[3], 1.0, 1e-7);
  std::vector<float> e{3, 4, 0, 0};
  NormalizeDirection({2, 2}, theta.data(), e.data(), Norm::kDLayer, Ignore::kBiasBN);
  EXPECT_NEAR(e[0], 0.6, 1e-7);
  EXPECT_NEAR(e[1], 0.8, 1e-7);
}

TEST(DirectionMath, NoneLeavesTheGaussianAlone) {
  std::vector<float> theta{1, 2, 3, 4}, d{0.1f, -0.2f, 0.3f, 7};
  auto before = d;
  NormalizeDirection({2, 2}, theta.data(), d.data(), Norm::kNone, Ignore::kBiasBN);
  EXPECT_EQ(d, before);
}

TEST(DirectionMath, BiasBnZeroesVectorsAndScalarsOtherwiseCopiesTheWeights) {
  std::vector<float> bias{0.5, -1, 2}, d{7, 8, 9};
  NormalizeDirection({3}, bias.data(), d.data(), Norm::kFilter, Ignore::kBiasBN);
  EXPECT_EQ(d, (std::vector<float>{0, 0, 0}));
  std::vector<float> e{7, 8, 9};
  NormalizeDirection({3}, bias.data(), e.data(), Norm::kFilter, Ignore::kNone);
  EXPECT_EQ(e, bias);
  // A 0-D entry (num_batches_tracked) follows the same rule.
  std::vector<float> counter{42}, f{1.5};
  NormalizeDirection({}, counter.data(), f.data(), Norm::kFilter, Ignore::kNone);
  EXPECT_EQ(f[0], 42.0f);
  NormalizeDirection({}, counter.data(), f.data(), Norm::kFilter, Ignore::kBiasBN);
  EXPECT_EQ(f[0], 0.0f);
}

TEST(DirectionMath, RandomDirectionIsFilterNormalizedAndReproducible) {
  std::vector<float> theta(8 * 27);
  for (size_t i = 0; i < theta.size(); ++i) theta[i] = std::sin(double(i)) * (1 + i % 8);
  auto a = RandomDirection({8, 3, 3, 3}, theta.data(), 123, 0, 4, Norm::kFilter, Ignore::kBiasBN);
  auto b = RandomDirection({8, 3, 3, 3}, theta.data(), 123, 0, 4, Norm::kFilter, Ignore::kBiasBN);
  EXPECT_EQ(a, b);  // bit-identical
  for (size_t k = 0; k < 8; ++k) EXPECT_NEAR(RowNorm(a, k, 27), RowNorm(theta, k, 27), 1e-5 * RowNorm(theta, k, 27));
  auto y = RandomDirection({8, 3, 3, 3}, theta.data(), 123, 1, 4, Norm::kFilter, Ignore::kBiasBN);
  auto other_seed = RandomDirection({8, 3, 3, 3}, theta.data(), 124, 0, 4, Norm::kFilter, Ignore::kBiasBN);
  EXPECT_NE(a, y);
  EXPECT_NE(a, other_seed);
}

TEST(DirectionMath, CosineOfRandomDirectionsIsSmall) {
  std::vector<float> theta(20000, 1.0f);
  auto x = RandomDirection({100, 200}, theta.data(), 7, 0, 0, Norm::kNone, Ignore::kBiasBN);
  auto y = RandomDirection({100, 200}, theta.data(), 7, 1, 0, Norm::kNone, Ignore::kBiasBN);
  const double c = DirectionCosine({x}, {y}, {{100, 200}});
  EXPECT_LT(std::fabs(c), 0.03);  // ~1/sqrt(20000) = 0.007
  EXPECT_NEAR(DirectionCosine({x}, {x}, {{100, 200}}), 1.0, 1e-12);
}

}  // namespace
}  // namespace landscape::core
