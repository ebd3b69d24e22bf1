// The pictures' layout, checked by pixels and by the texts a picture reports
// (Frame::texts): every text inside the canvas, a log scale that gives a basin
// several colours, the 3-D picture's labels and ticks, the reference's levels,
// and a 1-D legend that keeps clear of the curves.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include "landscape/io/hdf5_files.h"
#include "landscape/plot/plot.h"
#include "png_reader.h"

namespace landscape::plot {
namespace {

using testing::Image;
using testing::Luminance;
using testing::ReadPng;

std::filesystem::path Dir() {
  if (const char* keep = std::getenv("LANDSCAPE_TEST_PICTURES")) return keep;
  return std::filesystem::temp_directory_path() / ("landscape_plot_layout_" + std::to_string(getpid()));
}

std::string Out(const std::string& name) {
  std::filesystem::create_directories(Dir());
  return (Dir() / name).string();
}

class RemovePictures : public ::testing::Environment {
 public:
  void TearDown() override {
    if (!std::getenv("LANDSCAPE_TEST_PICTURES") && ::testing::UnitTest::GetInstance()->Passed()) {
      std::error_code ec;
      std::filesystem::remove_all(Dir(), ec);
    }
  }
};
const auto* const kRemove = ::testing::AddGlobalTestEnvironment(new RemovePictures);

std::vector<double> Linspace(double a, double b, int n) {
  std::vector<double> v(n);
  for (int i = 0; i < n; ++i) v[i] = a + (b - a) * i / (n - 1);
  return v;
}

// train_loss = f(x, y) on the grid (row = y); 1-D when y is empty.
io::Surface Analytic(std::vector<double> x, std::vector<double> y, const std::function<double(double, double)>& f) {
  io::Surface s;
  s.x = std::move(x);
  s.y = std::move(y);
  s.metric_names = {"train_loss"};
  const size_t ny = std::max<size_t>(1, s.y.size());
  for (size_t iy = 0; iy < ny; ++iy) {
    for (size_t ix = 0; ix < s.nx(); ++ix) {
      s.metrics["train_loss"].push_back(f(s.x[ix], s.y.empty() ? 0.0 : s.y[iy]));
    }
  }
  s.done.assign(s.metrics["train_loss"].size(), 1);
  return s;
}

struct Picture {
  Frame frame;
  Image image;
};

Picture DrawPng(const PlotData& d, Kind kind, const PlotOptions& o, const std::string& name) {
  const std::string file = Out(name);
  auto r = Draw(d, kind, o, file);
  EXPECT_TRUE(r.ok()) << name << ": " << r.status();
  Picture p;
  if (r.ok()) p.frame = *r;
  p.image = ReadPng(file);
  EXPECT_TRUE(p.image.ok()) << "cannot decode " << file;
  return p;
}

Picture DrawPng(const io::Surface& s, Kind kind, const PlotOptions& o, const std::string& name) {
  PlotData d;
  d.surface = &s;
  return DrawPng(d, kind, o, name);
}

size_t Count(const std::vector<std::string>& texts, const std::function<bool(const std::string&)>& pred) {
  return static_cast<size_t>(std::count_if(texts.begin(), texts.end(), pred));
}

// ---- every text inside the canvas ---------------------------------------------------

// A job as a new user writes it: data twelve folders deep, long labels.
void AddLongDescription(io::Surface* s) {
  const std::string deep = "/home/alice/projects/2026/landscape-experiments/cifar10/resnet56/sgd-lr0.1/"
                           "seed-1234/run-0042/checkpoints/epoch-300/";
  s->attributes["spec"] = R"({"name": "", "model": {"model": ")" + deep + R"(model_final_weights.pt"},
      "data": {"source": "tensor:)" + deep + R"(cifar10_train_preprocessed.pt", "split": "both",
               "max_samples": "50000"},
      "loss": "crossentropy",
      "directions": {"kind": "file", "file": ")" + deep + R"(directions_filter_normalized.h5"}})";
  s->attributes["label_repository"] = "github.com/alice/a-rather-long-repository-name-for-experiments";
  s->attributes["label_commit"] = "0123456789abcdef0123456789abcdef01234567";
  s->attributes["label_note"] = "a long free-text label that a CI job fills in with the branch name, the "
                                "pull request's title and the runner's host name, which does not fit";
}

// Dark pixels (text, lines) on the outer `margin` rows and columns: "" when
// none, else how many and where the first is.
std::string DarkOnMargin(const Image& im, int margin) {
  size_t dark = 0;
  std::string first;
  for (int y = 0; y < im.height; ++y) {
    for (int x = 0; x < im.width; ++x) {
      const bool edge = x < margin || y < margin || x >= im.width - margin || y >= im.height - margin;
      if (edge && Luminance(im.At(x, y)) < 200) {
        if (dark++ == 0) first = " (first at x=" + std::to_string(x) + ", y=" + std::to_string(y) + ")";
      }
    }
  }
  return dark == 0 ? "" : std::to_string(dark) + " dark pixels" + first;
}

TEST(PlotLayout, LongPathsAndLabelsStayInsideTheCanvas) {
  io::Surface s2 = Analytic(Linspace(-1, 1, 21), Linspace(-1, 1, 21), [](double x, double y) { return x * x + y * y; });
  io::Surface s1 = Analytic(Linspace(-1, 1, 41), {}, [](double x, double) { return 1 + x * x; });
  AddLongDescription(&s2);
  AddLongDescription(&s1);
  const std::vector<std::pair<const io::Surface*, Kind>> cases = {
      {&s2, Kind::kContour}, {&s2, Kind::kFilled}, {&s2, Kind::kHeat}, {&s2, Kind::kSurface3d}, {&s1, Kind::kCurve1d}};
  for (const auto& [size, title] : std::vector<std::pair<std::pair<int, int>, std::string>>{
           {{1000, 750}, ""}, {{560, 420}, ""}, {{700, 500}, std::string(300, 'W')}}) {
    for (const auto& [s, kind] : cases) {
      PlotOptions o;
      o.width = size.first;
      o.height = size.second;
      o.title = title;
      const std::string name = std::string("long_") + KindName(kind) + "_" + std::to_string(size.first) + ".png";
      const Picture p = DrawPng(*s, kind, o, name);
      ASSERT_TRUE(p.image.ok());
      EXPECT_EQ(DarkOnMargin(p.image, 3), "") << name << ": text crosses the canvas' edge";
      // Paths are written as file names; what is still too long ends in an ellipsis.
      for (const std::string& t : p.frame.texts) EXPECT_EQ(t.find("/home/alice"), std::string::npos) << t;
      EXPECT_EQ(Count(p.frame.texts, [](const std::string& t) { return t.find("cifar10_train_preprocessed.pt") !=
                                                                        std::string::npos; }),
                1u)
          << name;
      EXPECT_GE(Count(p.frame.texts, [](const std::string& t) { return t.find("…") != std::string::npos; }), 1u)
          << name << ": the long labels are cut";
    }
  }
}

// ---- scales -------------------------------------------------------------------------

// Colours covering at least 1 % of the pixels whose data point lies where
// loss < 2. Colours within 10 of one another on every channel count as one: the
// seams between PLplot's fill polygons blend by a few levels.
size_t BasinColours(const Picture& p, const std::function<double(double, double)>& f) {
  std::map<std::array<int, 3>, size_t> hist;
  size_t n = 0;
  const Frame& fr = p.frame;
  for (int py = static_cast<int>(fr.top) + 2; py < fr.bottom - 2; ++py) {
    for (int px = static_cast<int>(fr.left) + 2; px < fr.right - 2; ++px) {
      const double x = fr.xmin + (px - fr.left) / (fr.right - fr.left) * (fr.xmax - fr.xmin);
      const double y = fr.ymax - (py - fr.top) / (fr.bottom - fr.top) * (fr.ymax - fr.ymin);
      if (f(x, y) >= 2) continue;
      ++hist[p.image.At(px, py)];
      ++n;
    }
  }
  std::vector<std::pair<size_t, std::array<int, 3>>> by_count;
  for (const auto& [c, k] : hist) by_count.emplace_back(k, c);
  std::sort(by_count.rbegin(), by_count.rend());
  std::vector<std::pair<std::array<int, 3>, size_t>> clusters;  // most frequent colour first
  for (const auto& [k, c] : by_count) {
    auto near = std::find_if(clusters.begin(), clusters.end(), [&](const auto& cl) {
      return std::abs(cl.first[0] - c[0]) <= 10 && std::abs(cl.first[1] - c[1]) <= 10 &&
             std::abs(cl.first[2] - c[2]) <= 10;
    });
    if (near == clusters.end()) {
      clusters.emplace_back(c, k);
    } else {
      near->second += k;
    }
  }
  return static_cast<size_t>(
      std::count_if(clusters.begin(), clusters.end(), [&](const auto& cl) { return cl.second * 100 >= n; }));
}

TEST(PlotLayout, LogScaleGivesTheBasinSeveralColours) {
  const auto f = [](double x, double y) { return 0.1 + 18 * std::pow(x * x + y * y, 2); };  // 0.1 .. 72.1
  const io::Surface s = Analytic(Linspace(-1, 1, 61), Linspace(-1, 1, 61), f);
  for (Kind kind : {Kind::kFilled, Kind::kHeat}) {
    const std::string k = KindName(kind);
    PlotOptions linear;
    linear.scale = Scale::kLinear;
    const Picture lin = DrawPng(s, kind, linear, "basin_linear_" + k + ".png");
    EXPECT_FALSE(lin.frame.log_scale);
    const Picture aut = DrawPng(s, kind, {}, "basin_auto_" + k + ".png");
    EXPECT_TRUE(aut.frame.log_scale) << "max/min = 721: automatic log";
    PlotOptions log;
    log.scale = Scale::kLog;
    const Picture lg = DrawPng(s, kind, log, "basin_log_" + k + ".png");
    EXPECT_TRUE(lg.frame.log_scale);
    if (kind == Kind::kFilled) EXPECT_LE(BasinColours(lin, f), 1u) << "linear: one band below 2";
    EXPECT_LE(BasinColours(lin, f), 3u) << k;
    EXPECT_GE(BasinColours(aut, f), 4u) << k;
    EXPECT_GE(BasinColours(lg, f), 4u) << k;
    // The footer says which scale was used and why.
    auto says = [](const Picture& p, const std::string& what) {
      return Count(p.frame.texts, [&](const std::string& t) { return t.find(what) != std::string::npos; }) == 1;
    };
    EXPECT_TRUE(says(aut, "colours: log scale (automatic")) << k;
    EXPECT_TRUE(says(lin, "colours: linear scale")) << k;
    EXPECT_TRUE(says(lg, "colours: log scale")) << k;
  }
  const Picture p3 = DrawPng(s, Kind::kSurface3d, {}, "basin_auto_3d.png");
  EXPECT_TRUE(p3.frame.log_scale);
  EXPECT_EQ(Count(p3.frame.texts, [](const std::string& t) { return t == "train loss (log scale)"; }), 1u);
}

TEST(PlotLayout, AutomaticScaleRule) {
  EXPECT_TRUE(AutoLogScale({0.1, 5, 20.1}));           // max/min 201 > 100
  EXPECT_FALSE(AutoLogScale({1, 50, 99}));             // 99, and 1 of 3 in the lowest tenth
  EXPECT_TRUE(AutoLogScale({1, 1.5, 2, 3, 40}));       // 4 of 5 below 1 + 3.9
  EXPECT_FALSE(AutoLogScale({1, 2, 5, 40, 35}));       // 2 of 5
  EXPECT_FALSE(AutoLogScale({-1, 0.1, 100}));          // a value <= 0: never log
  EXPECT_FALSE(AutoLogScale({0, 1, 1000}));
  EXPECT_TRUE(AutoLogScale({1, 2, 3, NAN, 1000}));     // missing points do not count
  EXPECT_FALSE(AutoLogScale({1, 2, 3, 1000}, std::make_pair(1.0, 4.0)));  // --vmin/--vmax range
}

TEST(PlotLayout, OptionsAreCheckedBeforeDrawing) {
  auto field = [](const PlotOptions& o) {
    const core::Status st = CheckOptions(o);
    return st.ok() ? std::string("ok") : st.ToString();
  };
  PlotOptions o;
  EXPECT_EQ(field(o), "ok");
  o.vmin = 2, o.vmax = 2;
  EXPECT_NE(field(o).find("--vmax"), std::string::npos) << field(o);
  o = {};
  o.vlevel = 0;
  EXPECT_NE(field(o).find("--vlevel"), std::string::npos);
  o.vlevel = -0.5;
  EXPECT_NE(field(o).find("--vlevel"), std::string::npos);
  o = {};
  o.scale = Scale::kLog;
  o.vmin = 0;
  EXPECT_NE(field(o).find("--log"), std::string::npos);
  // With the data: --log and a metric that reaches 0 or below.
  const io::Surface neg = Analytic(Linspace(-1, 1, 5), Linspace(-1, 1, 5), [](double x, double) { return x; });
  PlotData d;
  d.surface = &neg;
  PlotOptions lg;
  lg.scale = Scale::kLog;
  const core::Status st = CheckOptions(d, Kind::kHeat, lg);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.ToString().find("--log"), std::string::npos) << st;
  const std::string file = Out("neg_log.png");
  EXPECT_FALSE(Draw(d, Kind::kHeat, lg, file).ok());
  EXPECT_FALSE(std::filesystem::exists(file));
  EXPECT_EQ(*ParseScale("log"), Scale::kLog);
  EXPECT_FALSE(ParseScale("logarithmic").ok());
}

// ---- the reference's levels ------------------------------------------------------------

TEST(PlotLayout, VminVmaxVlevelGiveTheReferenceLevels) {
  const io::Surface s = Analytic(Linspace(-1, 1, 21), Linspace(-1, 1, 21),
                                 [](double x, double y) { return 0.2 + 5 * (x * x + y * y); });  // 0.2 .. 10.2
  // numpy.arange(vmin, vmax, vlevel), written out by hand.
  const std::vector<std::tuple<double, double, double, std::vector<double>>> cases = {
      {0.1, 10, 0.5, {0.1, 0.6, 1.1, 1.6, 2.1, 2.6, 3.1, 3.6, 4.1, 4.6, 5.1, 5.6, 6.1, 6.6, 7.1, 7.6, 8.1, 8.6, 9.1, 9.6}},
      {1, 2, 0.3, {1, 1.3, 1.6, 1.9}},   // ceil(1 / 0.3) = 4 values
      {0, 1, 0.25, {0, 0.25, 0.5, 0.75}},  // vmax itself excluded
      {0.5, 3, 1, {0.5, 1.5, 2.5}},
  };
  for (const auto& [vmin, vmax, vlevel, want] : cases) {
    PlotOptions o;
    o.vmin = vmin, o.vmax = vmax, o.vlevel = vlevel;
    for (Kind kind : {Kind::kContour, Kind::kFilled}) {
      const Picture p = DrawPng(s, kind, o, std::string("levels_") + KindName(kind) + ".png");
      ASSERT_EQ(p.frame.levels.size(), want.size()) << vmin << " " << vmax << " " << vlevel;
      for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(p.frame.levels[i], want[i], 1e-12);
      EXPECT_FALSE(p.frame.log_scale) << "arange levels are linear";
    }
  }
  // Without them: round levels over the data; changing vmin/vmax changes them.
  const Picture a = DrawPng(s, Kind::kContour, {}, "levels_auto.png");
  PlotOptions narrow;
  narrow.vmin = 1, narrow.vmax = 3;
  const Picture b = DrawPng(s, Kind::kContour, narrow, "levels_narrow.png");
  ASSERT_FALSE(b.frame.levels.empty());
  EXPECT_NE(a.frame.levels, b.frame.levels);
  EXPECT_LE(b.frame.levels.front(), 1.0);
  EXPECT_GE(b.frame.levels.back(), 3.0);
}

// ---- the 3-D picture ------------------------------------------------------------------

TEST(PlotLayout, ThreeDNamesTheMetricOnceAndTicksTheRangeEnds) {
  io::Surface s = Analytic(Linspace(-1, 1, 21), Linspace(-0.3, 0.7, 11),
                           [](double x, double y) { return 1 + x * x + y * y; });
  s.attributes["spec"] = R"({"model": {"model": "m8/model_8.pt"}})";
  const Picture p = DrawPng(s, Kind::kSurface3d, {}, "ticks_3d.png");
  const auto& t = p.frame.texts;
  auto exactly = [&](const std::string& want) { return Count(t, [&](const std::string& x) { return x == want; }); };
  EXPECT_EQ(exactly("model_8.pt  ·  train loss"), 1u) << "the title, once";
  EXPECT_EQ(exactly("train loss"), 1u) << "the metric names the z axis only";
  EXPECT_EQ(Count(t, [](const std::string& x) { return x.find("train loss") != std::string::npos; }), 2u);
  for (const char* end : {"-1", "1", "-0.3", "0.7"}) EXPECT_EQ(exactly(end), 1u) << "a tick at the end " << end;
  EXPECT_EQ(exactly("α"), 1u);
  EXPECT_EQ(exactly("β"), 1u);

  const std::vector<double> ab = AxisTicks(-1, 1);
  EXPECT_EQ(ab, (std::vector<double>{-1, -0.5, 0, 0.5, 1}));
  const std::vector<double> b = AxisTicks(-0.3, 0.7);  // step 0.25; -0.25 is too close to -0.3
  ASSERT_EQ(b.size(), 5u);
  EXPECT_DOUBLE_EQ(b.front(), -0.3);
  EXPECT_DOUBLE_EQ(b.back(), 0.7);
  EXPECT_NEAR(b[1], 0, 1e-12);
  EXPECT_NEAR(b[2], 0.25, 1e-12);
  EXPECT_NEAR(b[3], 0.5, 1e-12);
}

// ---- the 1-D legend ------------------------------------------------------------------

TEST(PlotLayout, LegendKeepsClearOfTheAccuracyDrop) {
  // Loss rises to both sides; accuracy holds at 90 % and drops beyond |α| = 0.4
  // to 20 % (what the top corners held before).
  auto acc = [](double x, double shift) {
    const double u = std::max(0.0, (std::fabs(x) - 0.4) / 0.6);
    return 90 - shift - 70 * u * u;
  };
  io::Surface s;
  s.x = Linspace(-1, 1, 81);
  s.metric_names = {"train_loss", "train_acc", "test_loss", "test_acc"};
  for (double x : s.x) {
    s.metrics["train_loss"].push_back(0.3 + 3 * x * x);
    s.metrics["test_loss"].push_back(0.4 + 3.2 * x * x);
    s.metrics["train_acc"].push_back(acc(x, 0));
    s.metrics["test_acc"].push_back(acc(x, 3));
  }
  s.done.assign(s.x.size(), 1);
  const Picture p = DrawPng(s, Kind::kCurve1d, {}, "legend_1d.png");
  ASSERT_TRUE(p.frame.legend.has_value());
  const Box& box = *p.frame.legend;
  EXPECT_GT(box.right - box.left, 50) << "a real box";
  EXPECT_GT(box.bottom - box.top, 30);
  const Frame& f = p.frame;
  auto inside = [&](double px, double py) {
    return px >= box.left - 2 && px <= box.right + 2 && py >= box.top - 2 && py <= box.bottom + 2;
  };
  auto acc_py = [&](double a) { return f.bottom - a / 100.0 * (f.bottom - f.top); };
  auto red = [](const std::array<int, 3>& c) { return c[0] > 150 && c[1] < 110 && c[2] < 110; };
  for (double x = -1; x <= 1; x += 0.005) {
    const double px = f.PixelX(x);
    EXPECT_FALSE(inside(px, acc_py(acc(x, 0)))) << "train accuracy under the legend at α=" << x;
    EXPECT_FALSE(inside(px, acc_py(acc(x, 3)))) << "test accuracy under the legend at α=" << x;
    EXPECT_FALSE(inside(px, f.PixelY(0.3 + 3 * x * x))) << "train loss under the legend at α=" << x;
    EXPECT_FALSE(inside(px, f.PixelY(0.4 + 3.2 * x * x))) << "test loss under the legend at α=" << x;
  }
  // Where the accuracy drops, its line is drawn in full colour (not behind the legend's veil).
  for (double x : {-0.9, -0.75, -0.6, 0.6, 0.75, 0.9}) {
    bool found = false;
    for (int dx = -3; dx <= 3 && !found; ++dx) {
      for (int dy = -3; dy <= 3 && !found; ++dy) found = red(p.image.At(f.PixelX(x) + dx, acc_py(acc(x, 0)) + dy));
    }
    EXPECT_TRUE(found) << "the accuracy line at α=" << x;
  }
}

}  // namespace
}  // namespace landscape::plot
