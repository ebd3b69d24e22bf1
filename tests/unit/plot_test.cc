// Pictures checked by their pixels: analytic surfaces with a known shape are
// drawn with landscape_plot, decoded with libpng, and sampled at the pixels
// where known data coordinates land (Frame maps data to pixels).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include "landscape/io/hdf5_files.h"
#include "landscape/plot/plot.h"
#include "landscape/io/surface_views.h"
#include "png_reader.h"

namespace landscape::plot {
namespace {

using testing::Image;
using testing::Luminance;
using testing::ReadPng;

std::filesystem::path TempDir() {
  return std::filesystem::temp_directory_path() / ("landscape_plot_test_" + std::to_string(getpid()));
}

std::string OutDir() {
  // LANDSCAPE_TEST_PICTURES=DIR keeps the pictures for a human to look at.
  if (const char* keep = std::getenv("LANDSCAPE_TEST_PICTURES")) {
    std::filesystem::create_directories(keep);
    return keep;
  }
  std::filesystem::create_directories(TempDir());
  return TempDir().string();
}

// Removes this process's pictures when every test passed (they stay for a look otherwise).
class RemovePictures : public ::testing::Environment {
 public:
  void TearDown() override {
    if (::testing::UnitTest::GetInstance()->Passed()) {
      std::error_code ec;
      std::filesystem::remove_all(TempDir(), ec);
    }
  }
};
const auto* const kRemovePictures = ::testing::AddGlobalTestEnvironment(new RemovePictures);

std::string Out(const std::string& name) { return (std::filesystem::path(OutDir()) / name).string(); }

std::vector<double> Linspace(double a, double b, int n) {
  std::vector<double> v(n);
  for (int i = 0; i < n; ++i) v[i] = a + (b - a) * i / (n - 1);
  return v;
}

// A 2-D surface with train_loss = f(x, y) and train_acc = 100 - 10 f, row = y.
io::Surface Analytic(std::vector<double> x, std::vector<double> y, const std::function<double(double, double)>& f) {
  io::Surface s;
  s.x = std::move(x);
  s.y = std::move(y);
  s.metric_names = {"train_loss", "train_acc"};
  const size_t n = s.nx() * s.ny();
  s.metrics["train_loss"].resize(n);
  s.metrics["train_acc"].resize(n);
  for (size_t iy = 0; iy < s.ny(); ++iy) {
    for (size_t ix = 0; ix < s.nx(); ++ix) {
      const double v = f(s.x[ix], s.y[iy]);
      s.metrics["train_loss"][iy * s.nx() + ix] = v;
      s.metrics["train_acc"][iy * s.nx() + ix] = 100 - 10 * v;
    }
  }
  s.done.assign(n, 1);
  s.attributes["label_commit"] = "abc1234";
  return s;
}

io::Surface Bowl() {
  return Analytic(Linspace(-1, 1, 21), Linspace(-1, 1, 21), [](double x, double y) { return x * x + y * y; });
}

struct Drawn {
  Frame frame;
  Image image;
};

Drawn DrawPng(const io::Surface& s, Kind kind, const std::string& name, PlotOptions opts = {},
              std::optional<Trajectory> path = std::nullopt) {
  PlotData d;
  d.surface = &s;
  d.trajectory = std::move(path);
  const std::string file = Out(name);
  auto r = Draw(d, kind, opts, file);
  EXPECT_TRUE(r.ok()) << r.status();
  Drawn out;
  if (r.ok()) out.frame = *r;
  out.image = ReadPng(file);
  EXPECT_TRUE(out.image.ok()) << "cannot decode " << file;
  return out;
}

double Lum(const Drawn& d, double x, double y) {
  return Luminance(d.image.At(d.frame.PixelX(x), d.frame.PixelY(y)));
}

bool IsWhite(const std::array<int, 3>& c) { return c[0] > 245 && c[1] > 245 && c[2] > 245; }

// ---- colour order and orientation ------------------------------------------------

TEST(Plot, HeatMapOfABowlIsDarkInTheMiddleAndBrightInTheCorners) {
  const io::Surface s = Bowl();
  const Drawn d = DrawPng(s, Kind::kHeat, "bowl_heat.png");
  ASSERT_TRUE(d.image.ok());
  EXPECT_EQ(d.image.width, 1000);
  EXPECT_EQ(d.image.height, 750);
  // Viridis: low values dark purple, high values yellow.
  const auto centre = d.image.At(d.frame.PixelX(0), d.frame.PixelY(0));
  EXPECT_LT(Luminance(centre), 40) << centre[0] << "," << centre[1] << "," << centre[2];
  EXPECT_GT(centre[2], centre[1]);  // purple: more blue than green
  for (double cx : {-0.98, 0.98}) {
    for (double cy : {-0.98, 0.98}) {
      const auto corner = d.image.At(d.frame.PixelX(cx), d.frame.PixelY(cy));
      EXPECT_GT(Luminance(corner), 180) << "corner " << cx << "," << cy;
      EXPECT_GT(corner[0], corner[2]);  // yellow: red over blue
    }
  }
  // Monotone along a ray from the centre.
  double last = -1;
  for (double r : {0.0, 0.3, 0.5, 0.7, 0.9}) {
    const double l = Lum(d, r, r * 0.5);
    EXPECT_GT(l, last) << "at r=" << r;
    last = l;
  }
}

TEST(Plot, FilledContoursOfABowlKeepTheColourOrder) {
  const io::Surface s = Bowl();
  const Drawn d = DrawPng(s, Kind::kFilled, "bowl_filled.png");
  ASSERT_TRUE(d.image.ok());
  const double c = Lum(d, 0, 0), mid = Lum(d, 0.6, 0.1), edge = Lum(d, 0.95, -0.95);
  EXPECT_LT(c, mid);
  EXPECT_LT(mid, edge);
  // Inside the plot nothing is left white: every finite value lands in a band.
  for (double x : Linspace(-0.95, 0.95, 9)) {
    for (double y : Linspace(-0.95, 0.95, 9)) {
      EXPECT_FALSE(IsWhite(d.image.At(d.frame.PixelX(x), d.frame.PixelY(y)))) << x << "," << y;
    }
  }
}

// A surface that depends only on x must change along the image's horizontal
// axis and not along the vertical one, on a non-square grid (25 x 9).
TEST(Plot, NonSquareGridXDependenceIsHorizontal) {
  const io::Surface s =
      Analytic(Linspace(-2, 2, 25), Linspace(-0.5, 0.5, 9), [](double x, double) { return x + 3.0; });
  for (Kind kind : {Kind::kHeat, Kind::kFilled}) {
    const Drawn d = DrawPng(s, kind, std::string("x_only_") + KindName(kind) + ".png");
    ASSERT_TRUE(d.image.ok());
    EXPECT_GT(d.frame.right - d.frame.left, 100);
    double last = -1;
    for (double x : {-1.8, -1.0, 0.0, 1.0, 1.8}) {
      const double l = Lum(d, x, 0.0);
      EXPECT_GT(l, last) << KindName(kind) << " x=" << x;
      last = l;
      // Constant along y (within one colour band's rounding).
      EXPECT_NEAR(Lum(d, x, -0.4), l, 6) << KindName(kind) << " x=" << x;
      EXPECT_NEAR(Lum(d, x, 0.4), l, 6) << KindName(kind) << " x=" << x;
    }
  }
}

TEST(Plot, NonSquareGridYDependenceIsVerticalWithLargeYUp) {
  const io::Surface s = Analytic(Linspace(-2, 2, 25), Linspace(-0.5, 0.5, 9), [](double, double y) { return y; });
  const Drawn d = DrawPng(s, Kind::kHeat, "y_only_heat.png");
  ASSERT_TRUE(d.image.ok());
  // y = 0.45 is bright and near the top of the image; y = -0.45 dark, near the bottom.
  EXPECT_LT(d.frame.PixelY(0.45), d.frame.PixelY(-0.45));
  EXPECT_GT(Lum(d, 0.0, 0.45), Lum(d, 0.0, 0.0));
  EXPECT_GT(Lum(d, 0.0, 0.0), Lum(d, 0.0, -0.45));
  for (double y : {-0.45, 0.0, 0.45}) {
    EXPECT_NEAR(Lum(d, -1.9, y), Lum(d, 1.9, y), 6) << "y=" << y;
  }
}

TEST(Plot, ContourLinesLieOnTheirLevel) {
  const io::Surface s = Bowl();
  PlotOptions o;
  o.vmin = 0.5;
  o.vmax = 1.0;
  o.vlevel = 0.5;  // arange(0.5, 1.0, 0.5) = {0.5}: one circle of radius sqrt(0.5)
  const Drawn d = DrawPng(s, Kind::kContour, "bowl_contour.png", o);
  ASSERT_TRUE(d.image.ok());
  const double r = std::sqrt(0.5);
  int on_line = 0;
  for (int k = 0; k < 16; ++k) {
    const double a = 2 * M_PI * (k + 0.5) / 16;
    const double px = d.frame.PixelX(r * std::cos(a)), py = d.frame.PixelY(r * std::sin(a));
    bool found = false;
    for (int dx = -3; dx <= 3 && !found; ++dx) {
      for (int dy = -3; dy <= 3 && !found; ++dy) found = !IsWhite(d.image.At(px + dx, py + dy));
    }
    on_line += found ? 1 : 0;
  }
  EXPECT_GE(on_line, 13) << "inline labels may break the line in a few places, not most";
  // Nothing drawn at the centre or halfway between the circle and the corner.
  EXPECT_TRUE(IsWhite(d.image.At(d.frame.PixelX(0), d.frame.PixelY(0))));
  EXPECT_TRUE(IsWhite(d.image.At(d.frame.PixelX(0.2), d.frame.PixelY(0.2))));
  EXPECT_TRUE(IsWhite(d.image.At(d.frame.PixelX(0.85), d.frame.PixelY(0.85))));
}

TEST(Plot, CurvesPutLossOnTheLeftAxisAndAccuracyOnTheRight) {
  io::Surface s;
  s.x = Linspace(-1, 1, 41);
  s.metric_names = {"train_loss", "train_acc"};
  for (double x : s.x) {
    s.metrics["train_loss"].push_back(4 * x * x);   // 0..4
    s.metrics["train_acc"].push_back(90 - 40 * x * x);  // 50..90 %
  }
  s.done.assign(s.x.size(), 1);
  const Drawn d = DrawPng(s, Kind::kCurve1d, "curve.png");
  ASSERT_TRUE(d.image.ok());
  // The loss axis is [0, 4 * 1.05]; accuracy [0, 100] over the same box.
  ASSERT_NEAR(d.frame.ymin, 0, 1e-12);
  ASSERT_NEAR(d.frame.ymax, 4.2, 1e-9);
  auto near_colour = [&](double px, double py, auto pred) {
    for (int dx = -3; dx <= 3; ++dx) {
      for (int dy = -3; dy <= 3; ++dy) {
        if (pred(d.image.At(px + dx, py + dy))) return true;
      }
    }
    return false;
  };
  auto blue = [](const std::array<int, 3>& c) { return c[2] > 120 && c[0] < 100; };
  auto red = [](const std::array<int, 3>& c) { return c[0] > 150 && c[1] < 110 && c[2] < 110; };
  for (double x : {-0.6, 0.25, 0.7}) {
    EXPECT_TRUE(near_colour(d.frame.PixelX(x), d.frame.PixelY(4 * x * x), blue)) << "loss at x=" << x;
    const double acc_py = d.frame.bottom - (90 - 40 * x * x) / 100.0 * (d.frame.bottom - d.frame.top);
    EXPECT_TRUE(near_colour(d.frame.PixelX(x), acc_py, red)) << "accuracy at x=" << x;
  }

  // An α range (the reference's --xmin/--xmax): the axes span it, the loss axis the points inside it.
  PlotOptions crop;
  crop.xmin = -0.5;
  crop.xmax = 0.25;
  const Drawn c = DrawPng(s, Kind::kCurve1d, "curve_crop.png", crop);
  ASSERT_TRUE(c.image.ok());
  EXPECT_NEAR(c.frame.xmin, -0.5, 1e-12);
  EXPECT_NEAR(c.frame.xmax, 0.25, 1e-12);
  EXPECT_NEAR(c.frame.ymax, 4 * 0.25 * 1.05, 1e-9);  // the largest loss inside: 4 * 0.5^2 at x = -0.5
  crop.xmin = 0.5;
  EXPECT_FALSE(Draw(PlotData{&s, "", {}, std::nullopt}, Kind::kCurve1d, crop, Out("bad_crop.png")).ok());
}

TEST(Plot, ThreeDSurfaceIsNotBlankAndSpansTheColourMap) {
  const io::Surface s = Bowl();
  const Drawn d = DrawPng(s, Kind::kSurface3d, "bowl_3d.png");
  ASSERT_TRUE(d.image.ok());
  size_t blueish = 0, reddish = 0;
  for (int y = 0; y < d.image.height; ++y) {
    for (int x = 0; x < d.image.width * 0.8; ++x) {  // left of the colour bar
      const auto c = d.image.At(x, y);
      blueish += (c[2] > c[0] + 60) ? 1 : 0;
      reddish += (c[0] > c[2] + 60) ? 1 : 0;
    }
  }
  EXPECT_GT(blueish, 5000u) << "the low centre (coolwarm blue) is visible";
  EXPECT_GT(reddish, 500u) << "the high corners (coolwarm red) are visible";
}

TEST(Plot, HessianRatioMapUsesTheReferenceRange) {
  io::Surface s = Bowl();
  s.metric_names.push_back("min_eig");
  s.metric_names.push_back("max_eig");
  for (size_t k = 0; k < s.PointCount(); ++k) {
    const double r2 = s.metrics["train_loss"][k];
    s.metrics["min_eig"].push_back(-0.25 * r2);  // |min/max| = r^2 / 4 in 0..0.5
    s.metrics["max_eig"].push_back(1.0);
  }
  const Drawn d = DrawPng(s, Kind::kHessian, "hessian.png");
  ASSERT_TRUE(d.image.ok());
  EXPECT_LT(Lum(d, 0, 0), Lum(d, 0.7, 0));
  EXPECT_LT(Lum(d, 0.7, 0), Lum(d, 0.98, 0.98));
  // 0.5 is the top of the colour range: the corner is yellow.
  const auto corner = d.image.At(d.frame.PixelX(0.98), d.frame.PixelY(0.98));
  EXPECT_GT(corner[0], 200);
  EXPECT_GT(corner[1], 200);
  EXPECT_LT(corner[2], 100);

  io::Surface one;  // and the 1-D ratio curve
  one.x = Linspace(-1, 1, 11);
  one.metric_names = {"min_eig", "max_eig"};
  for (double x : one.x) {
    one.metrics["min_eig"].push_back(-0.1 * x * x);
    one.metrics["max_eig"].push_back(2.0);
  }
  one.done.assign(one.x.size(), 1);
  const Drawn c = DrawPng(one, Kind::kHessian, "hessian_1d.png");
  EXPECT_TRUE(c.image.ok());

  // The signed ratio (the reference's second ratio picture) keeps min_eig's sign; the plain one does not.
  auto signed_ratio = io::MetricValues(one, "eig_ratio_signed");
  auto abs_ratio = io::MetricValues(one, "eig_ratio");
  ASSERT_TRUE(signed_ratio.ok() && abs_ratio.ok());
  EXPECT_DOUBLE_EQ((*signed_ratio)[0], -0.05);  // x = -1: -0.1 / 2
  EXPECT_DOUBLE_EQ((*abs_ratio)[0], 0.05);
  EXPECT_DOUBLE_EQ((*signed_ratio)[5], 0.0);  // x = 0
  PlotOptions o;
  o.metric = "eig_ratio_signed";
  const Drawn h = DrawPng(s, Kind::kHeat, "eig_ratio_signed_heat.png", o);
  EXPECT_TRUE(h.image.ok());
}

TEST(Plot, TrajectoryIsDrawnOverTheContour) {
  const io::Surface s = Bowl();
  Trajectory t;
  t.x = {-0.8, -0.6, -0.4, -0.2, 0.0};
  t.y = {-0.8, -0.5, -0.3, -0.1, 0.0};
  t.explained_variance_ratio = std::array<double, 2>{0.61, 0.23};
  const Drawn d = DrawPng(s, Kind::kTrajectory, "trajectory.png", {}, t);
  ASSERT_TRUE(d.image.ok());
  auto red = [](const std::array<int, 3>& c) { return c[0] > 150 && c[1] < 110 && c[2] < 110; };
  int hits = 0;
  for (size_t i = 0; i + 1 < t.x.size(); ++i) {
    const double mx = 0.5 * (t.x[i] + t.x[i + 1]), my = 0.5 * (t.y[i] + t.y[i + 1]);
    bool found = false;
    for (int dx = -2; dx <= 2 && !found; ++dx) {
      for (int dy = -2; dy <= 2 && !found; ++dy) {
        found = red(d.image.At(d.frame.PixelX(mx) + dx, d.frame.PixelY(my) + dy));
      }
    }
    hits += found ? 1 : 0;
  }
  EXPECT_EQ(hits, 4) << "the red path passes through every segment's midpoint";
}

TEST(Plot, MissingPointsAreLeftOutNotDrawnAsValues) {
  io::Surface s = Bowl();
  // A hole: the 3 x 3 block around (0.5, 0.5) is not finite.
  for (size_t iy = 14; iy <= 16; ++iy) {
    for (size_t ix = 14; ix <= 16; ++ix) s.metrics["train_loss"][iy * s.nx() + ix] = NAN;
  }
  s.done[0] = 0;  // and the corner (-1, -1) is not computed
  const Drawn heat = DrawPng(s, Kind::kHeat, "hole_heat.png");
  ASSERT_TRUE(heat.image.ok());
  EXPECT_TRUE(IsWhite(heat.image.At(heat.frame.PixelX(0.5), heat.frame.PixelY(0.5))));
  EXPECT_TRUE(IsWhite(heat.image.At(heat.frame.PixelX(-0.975), heat.frame.PixelY(-0.975))));
  EXPECT_FALSE(IsWhite(heat.image.At(heat.frame.PixelX(-0.5), heat.frame.PixelY(0.5))));
  const Drawn filled = DrawPng(s, Kind::kFilled, "hole_filled.png");
  ASSERT_TRUE(filled.image.ok());
  EXPECT_TRUE(IsWhite(filled.image.At(filled.frame.PixelX(0.5), filled.frame.PixelY(0.5))));
  // Next to the hole the bands follow the bowl, not a fill value: (0.5, 0.3)
  // (r^2 = 0.34) is brighter than (0.3, 0.3) (r^2 = 0.18).
  EXPECT_GT(Lum(filled, 0.5, 0.3), Lum(filled, 0.3, 0.3) + 5);
  const Drawn contour = DrawPng(s, Kind::kContour, "hole_contour.png");
  ASSERT_TRUE(contour.image.ok());
  for (double dx : {-0.03, 0.0, 0.03}) {  // no lines pile up inside the hole
    EXPECT_TRUE(IsWhite(contour.image.At(contour.frame.PixelX(0.5 + dx), contour.frame.PixelY(0.5))));
  }
  DrawPng(s, Kind::kSurface3d, "hole_3d.png");  // no crash, a picture
}

TEST(Plot, LogScaleOrdersColoursByLogValue) {
  const io::Surface s = Analytic(Linspace(-1, 1, 21), Linspace(-1, 1, 21),
                                 [](double x, double) { return std::pow(10.0, 2 * x); });  // 0.01 .. 100
  PlotOptions o;
  o.scale = Scale::kLog;
  const Drawn d = DrawPng(s, Kind::kHeat, "log_heat.png", o);
  ASSERT_TRUE(d.image.ok());
  // On a log scale x = 0 (value 1) sits in the middle of the colour map.
  const double lo = Lum(d, -0.98, 0), mid = Lum(d, 0, 0), hi = Lum(d, 0.98, 0);
  EXPECT_LT(lo, mid);
  EXPECT_LT(mid, hi);
  EXPECT_GT(mid - lo, 30);  // linear colours would make x = 0 as dark as x = -1
}

// The reference's plot_2D with only a projection file: the path on axes fitted to it, no surface.
TEST(Plot, TrajectoryAloneFillsTheFrame) {
  Trajectory t;
  t.x = {-3.0, -1.0, 0.5, 2.0};
  t.y = {10.0, 12.0, 11.0, 15.0};
  PlotData data;
  data.trajectory = t;
  const std::string file = Out("path_alone.png");
  auto f = Draw(data, Kind::kTrajectory, {}, file);
  ASSERT_TRUE(f.ok()) << f.status();
  // The axes span the path with 5 % margins.
  EXPECT_NEAR(f->xmin, -3.0 - 0.25, 1e-9);
  EXPECT_NEAR(f->xmax, 2.0 + 0.25, 1e-9);
  EXPECT_NEAR(f->ymin, 10.0 - 0.25, 1e-9);
  EXPECT_NEAR(f->ymax, 15.0 + 0.25, 1e-9);
  const Image image = ReadPng(file);
  ASSERT_TRUE(image.ok());
  auto red = [](const std::array<int, 3>& c) { return c[0] > 150 && c[1] < 110 && c[2] < 110; };
  for (size_t i = 0; i + 1 < t.x.size(); ++i) {
    const double mx = 0.5 * (t.x[i] + t.x[i + 1]), my = 0.5 * (t.y[i] + t.y[i + 1]);
    bool found = false;
    for (int dx = -2; dx <= 2 && !found; ++dx) {
      for (int dy = -2; dy <= 2 && !found; ++dy) found = red(image.At(f->PixelX(mx) + dx, f->PixelY(my) + dy));
    }
    EXPECT_TRUE(found) << "segment " << i;
  }
  // Only the trajectory may be drawn without a surface.
  EXPECT_FALSE(Draw(data, Kind::kContour, {}, Out("no_surface.png")).ok());
  PlotData empty;
  empty.trajectory = Trajectory{};
  EXPECT_FALSE(Draw(empty, Kind::kTrajectory, {}, Out("empty_path.png")).ok());
}

TEST(Plot, SvgAndPdfByExtension) {
  const io::Surface s = Bowl();
  PlotData d;
  d.surface = &s;
  for (const char* ext : {".svg", ".pdf"}) {
    const std::string file = Out(std::string("bowl_contour") + ext);
    auto r = Draw(d, Kind::kContour, {}, file);
    ASSERT_TRUE(r.ok()) << r.status();
    std::ifstream in(file, std::ios::binary);
    std::string head(5, '\0');
    in.read(head.data(), 5);
    if (std::string(ext) == ".pdf") {
      EXPECT_EQ(head, "%PDF-");
    } else {
      EXPECT_TRUE(head == "<?xml" || head.rfind("<svg", 0) == 0) << head;
    }
  }
}

// ---- bad input is a Status, never a crash or a stray file ---------------------------

TEST(Plot, BadInputIsAClearError) {
  const io::Surface s = Bowl();
  PlotData d;
  d.surface = &s;
  auto expect_invalid = [&](Kind k, PlotOptions o, const std::string& file, const std::string& fragment) {
    auto r = Draw(d, k, o, file);
    ASSERT_FALSE(r.ok()) << file;
    EXPECT_EQ(r.status().code(), core::StatusCode::kInvalidArgument) << r.status();
    EXPECT_NE(r.status().ToString().find(fragment), std::string::npos) << r.status();
    EXPECT_FALSE(std::filesystem::exists(file)) << "no file for a failed picture";
  };
  PlotOptions o;
  o.metric = "test_loss";
  expect_invalid(Kind::kContour, o, Out("bad1.png"), "no metric 'test_loss'");
  expect_invalid(Kind::kCurve1d, {}, Out("bad2.png"), "needs a 1-D surface");
  expect_invalid(Kind::kHessian, {}, Out("bad3.png"), "min_eig and max_eig");
  expect_invalid(Kind::kTrajectory, {}, Out("bad4.png"), "projection file");
  expect_invalid(Kind::kContour, {}, Out("bad5.gif"), ".png, .svg or .pdf");
  PlotOptions range;
  range.vmin = 2;
  range.vmax = 1;
  expect_invalid(Kind::kFilled, range, Out("bad6.png"), "--vmax: must be greater than --vmin");
  PlotOptions many;
  many.vmin = 0;
  many.vmax = 1;
  many.vlevel = 1e-6;
  expect_invalid(Kind::kContour, many, Out("bad7.png"), "at most 500");
  const io::Surface neg = Analytic(Linspace(-1, 1, 5), Linspace(-1, 1, 5), [](double x, double) { return x; });
  PlotData dn;
  dn.surface = &neg;
  PlotOptions lg;
  lg.metric = "train_loss";
  lg.scale = Scale::kLog;
  lg.vmin = -1;
  auto r = Draw(dn, Kind::kHeat, lg, Out("bad8.png"));
  EXPECT_FALSE(r.ok());
  // An unwritable path.
  auto w = Draw(d, Kind::kContour, {}, "/nonexistent-dir/x.png");
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().ToString().find("cannot write"), std::string::npos) << w.status();
}

TEST(Plot, KindsAndFormats) {
  EXPECT_EQ(*ParseKind("3d"), Kind::kSurface3d);
  EXPECT_FALSE(ParseKind("surface").ok());
  EXPECT_EQ(*FormatForPath("a/b.PNG"), Format::kPng);
  EXPECT_FALSE(FormatForPath("a/b").ok());
  const io::Surface s = Bowl();
  EXPECT_EQ(AllKinds(s).size(), 4u);
}

TEST(Levels, ArangeAsTheReference) {
  auto l = Levels(0.1, 10, 0.5, false);
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 20u);  // numpy.arange(0.1, 10, 0.5)
  EXPECT_DOUBLE_EQ(l->front(), 0.1);
  EXPECT_NEAR(l->back(), 9.6, 1e-12);
}

TEST(Levels, AutomaticLevelsAreRoundAndCoverTheRange) {
  auto l = Levels(0.63, 13.7, std::nullopt, false);
  ASSERT_TRUE(l.ok());
  EXPECT_LE(l->front(), 0.63);
  EXPECT_GE(l->back(), 13.7);
  EXPECT_GE(l->size(), 10u);
  EXPECT_LE(l->size(), 25u);
  for (double v : *l) EXPECT_NEAR(v, std::round(v * 4) / 4, 1e-9) << "steps of 1, 2, 2.5 or 5 x 10^k";
  auto g = Levels(0.02, 30, std::nullopt, true);
  ASSERT_TRUE(g.ok());
  EXPECT_LE(g->front(), 0.02);
  EXPECT_GE(g->back(), 30);
  for (size_t i = 1; i < g->size(); ++i) EXPECT_GT((*g)[i], (*g)[i - 1]);
  EXPECT_FALSE(Levels(0, 1, std::nullopt, true).ok());
  EXPECT_FALSE(Levels(1, 1, std::nullopt, false).ok());
}

}  // namespace
}  // namespace landscape::plot
