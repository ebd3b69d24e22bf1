#include <gtest/gtest.h>

#include <cmath>

#include "landscape/core/grid.h"

namespace landscape::core {
namespace {

TEST(Grid, LinspaceIncludesBothEnds) {
  auto a = ParseAxis("-1:1:5", "--x");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->Coordinates(), (std::vector<double>{-1.0, -0.5, 0.0, 0.5, 1.0}));
}

TEST(Grid, LinspaceFollowsNumpyArithmetic) {
  // numpy.linspace(-1, 1, 51): i * 0.04 + (-1), last = 1 exactly; the middle is exactly 0.
  auto c = AxisSpec{-1, 1, 51}.Coordinates();
  ASSERT_EQ(c.size(), 51u);
  EXPECT_EQ(c[0], -1.0);
  EXPECT_EQ(c[25], 0.0);
  EXPECT_EQ(c[50], 1.0);
  EXPECT_EQ(c[1], 1 * 0.04 + -1.0);
  EXPECT_EQ(c[37], 37 * 0.04 + -1.0);
}

TEST(Grid, RangesContainingZeroAndSinglePoints) {
  // The reference rejects a y range whose min, max or num is 0; we do not.
  auto a = ParseAxis("0:1:11", "--y");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->Coordinates().front(), 0.0);
  EXPECT_DOUBLE_EQ(a->Coordinates()[3], 0.3);
  auto one = ParseAxis("0.5:0.5:1", "--x");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->Coordinates(), std::vector<double>{0.5});
  auto fl = ParseAxis("-0.5:1.5:401.0", "--x");  // a float count, as the reference's users write it
  ASSERT_TRUE(fl.ok());
  EXPECT_EQ(fl->num, 401);
}

TEST(Grid, RejectsBadRanges) {
  for (const char* bad : {"1:0:5", "0:0:5", "nan:1:3", "-1:inf:3", "1:2", "a:b:c", "-1:1:0", "-1:1:2.5", "", "-1:1:-3",
                          "1:2:3:4"}) {
    auto a = ParseAxis(bad, "--x");
    EXPECT_FALSE(a.ok()) << bad;
    if (!a.ok()) {
      EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument);
      EXPECT_EQ(a.status().field(), "--x");
    }
  }
}

TEST(Grid, FlatIndexIsRowMajorWithRowY) {
  GridSpec g;
  g.x = {0, 3, 4};   // nx = 4
  g.y = AxisSpec{10, 12, 3};  // ny = 3 (non-square)
  auto xs = g.x.Coordinates(), ys = g.y->Coordinates();
  EXPECT_EQ(g.PointCount(), 12);
  auto p = g.PointAt(6, xs, ys);  // row 1, column 2
  EXPECT_EQ(p.ix, 2);
  EXPECT_EQ(p.iy, 1);
  EXPECT_EQ(p.alpha, 2.0);
  EXPECT_EQ(p.beta, 11.0);
}

TEST(Grid, LimitIsResourceExhausted) {
  GridSpec g;
  g.x = {-1, 1, 1001};
  g.y = AxisSpec{-1, 1, 1001};
  Status s = ValidateGrid(g, 1'000'000);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(s.field(), "grid");
  EXPECT_TRUE(ValidateGrid(g, 2'000'000).ok());
}

TEST(Grid, TilesCoverEveryPointOnce) {
  auto tiles = PlanTiles(10, 4);
  ASSERT_EQ(tiles.size(), 3u);
  EXPECT_EQ(tiles[0].begin, 0);
  EXPECT_EQ(tiles[2].begin, 8);
  EXPECT_EQ(tiles[2].end, 10);
  EXPECT_EQ(DefaultTileSize(2601), 51);
  EXPECT_EQ(DefaultTileSize(1), 1);
  EXPECT_EQ(DefaultTileSize(1'000'000), 256);
}

TEST(Grid, AxisToStringRoundTrips) {
  AxisSpec a{-0.1, 0.3, 7};
  auto b = ParseAxis(a.ToString(), "x");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, a);
}

}  // namespace
}  // namespace landscape::core
