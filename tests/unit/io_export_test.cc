// Exports, sharpness scalars and gates of landscape_io, on analytic surfaces
// whose answers are known in closed form. (tests/integration checks the same
// files against python3 oracles: xml.etree, h5py, numpy.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "landscape/io/gates.h"
#include "landscape/io/mesh_export.h"
#include "landscape/io/summary.h"
#include "landscape/io/surface_views.h"

namespace landscape::io {
namespace {

std::vector<double> Linspace(double a, double b, int n) {
  std::vector<double> v(n);
  for (int i = 0; i < n; ++i) v[i] = a + (b - a) * i / (n - 1);
  v.back() = b;
  return v;
}

Surface Analytic(std::vector<double> x, std::vector<double> y, const std::function<double(double, double)>& f) {
  Surface s;
  s.x = std::move(x);
  s.y = std::move(y);
  s.metric_names = {"train_loss", "train_acc"};
  for (size_t iy = 0; iy < s.ny(); ++iy) {
    for (size_t ix = 0; ix < s.nx(); ++ix) {
      const double v = f(s.x[ix], s.is_2d() ? s.y[iy] : 0.0);
      s.metrics["train_loss"].push_back(v);
      s.metrics["train_acc"].push_back(100 - v);
    }
  }
  s.done.assign(s.PointCount(), 1);
  return s;
}

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("landscape_io_export_" + std::to_string(getpid()) + "_" + name))
      .string();
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- interpolation --------------------------------------------------------------------

TEST(CubicSpline, PassesThroughTheDataAndReproducesLines) {
  const std::vector<double> xs{-1, -0.3, 0.2, 0.9, 2.0};  // uneven on purpose
  std::vector<double> line, wiggle;
  for (double x : xs) {
    line.push_back(3 - 2 * x);
    wiggle.push_back(std::sin(3 * x));
  }
  const auto at_nodes = CubicSpline(xs, wiggle, xs);
  for (size_t i = 0; i < xs.size(); ++i) EXPECT_NEAR(at_nodes[i], wiggle[i], 1e-12);
  const std::vector<double> between{-0.9, -0.1, 0.55, 1.7};
  const auto l = CubicSpline(xs, line, between);
  for (size_t i = 0; i < between.size(); ++i) EXPECT_NEAR(l[i], 3 - 2 * between[i], 1e-12);
  // A smooth function is approximated well between dense nodes.
  const auto dense = Linspace(0, 1, 21);
  std::vector<double> sq;
  for (double x : dense) sq.push_back(std::exp(x));
  const auto e = CubicSpline(dense, sq, {0.337, 0.512, 0.871});
  EXPECT_NEAR(e[0], std::exp(0.337), 1e-4);
  EXPECT_NEAR(e[1], std::exp(0.512), 1e-5);
  EXPECT_NEAR(e[2], std::exp(0.871), 1e-4);  // natural end conditions cost accuracy near the ends
}

TEST(ResampleBicubic, ReproducesBilinearFunctionsOnANonSquareGrid) {
  const auto x = Linspace(-2, 2, 9), y = Linspace(-0.5, 0.5, 4);
  auto f = [](double a, double b) { return 1 + 2 * a + 3 * b + 4 * a * b; };
  std::vector<double> z;
  for (double b : y) {
    for (double a : x) z.push_back(f(a, b));
  }
  const auto xo = Linspace(-2, 2, 17), yo = Linspace(-0.5, 0.5, 7);
  const auto r = ResampleBicubic(x, y, z, xo, yo);
  ASSERT_EQ(r.size(), xo.size() * yo.size());
  for (size_t jy = 0; jy < yo.size(); ++jy) {
    for (size_t jx = 0; jx < xo.size(); ++jx) {
      EXPECT_NEAR(r[jy * xo.size() + jx], f(xo[jx], yo[jy]), 1e-12) << xo[jx] << "," << yo[jy];
    }
  }
}

// ---- meshes -------------------------------------------------------------------------------

TEST(Mesh, OptionsOfH52Vtp) {
  Surface s = Analytic(Linspace(-1, 1, 5), Linspace(0, 1, 3), [](double x, double y) { return 10 * x * x + y; });
  s.attributes["label_run"] = "7";
  auto m = BuildMesh(s, {});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->nx(), 5u);
  EXPECT_EQ(m->ny(), 3u);
  EXPECT_EQ(m->metric, "train_loss");
  EXPECT_EQ(m->ValidCellCount(), 8u);
  EXPECT_DOUBLE_EQ(m->z[2 * 5 + 0], 10 + 1.0);  // (x = -1, y = 1): row 2, column 0
  EXPECT_EQ(m->labels.at("run"), "7");

  MeshOptions clip;
  clip.zmax = 5;
  clip.log = true;
  auto c = BuildMesh(s, clip);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->metric, "train_loss_zmax=5_log");
  EXPECT_DOUBLE_EQ(c->z[0], std::log(5 + 0.1));    // clipped, then ln(z + 0.1)
  EXPECT_DOUBLE_EQ(c->z[2], std::log(0 + 0.1));    // (0, 0) = 0

  MeshOptions up;
  up.interp = 11;
  auto u = BuildMesh(s, up);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->nx(), 11u);
  EXPECT_EQ(u->ny(), 11u);
  EXPECT_NEAR(u->z[0], s.metrics["train_loss"][0], 1e-12);  // the corners are grid points

  MeshOptions err;
  err.metric = "train_err";
  auto e = BuildMesh(s, err);
  ASSERT_TRUE(e.ok());
  EXPECT_DOUBLE_EQ(e->z[0], 100 - (100 - 10.0));
}

TEST(Mesh, BadInputIsAClearError) {
  const Surface one = Analytic(Linspace(-1, 1, 5), {}, [](double x, double) { return x; });
  EXPECT_EQ(BuildMesh(one, {}).status().code(), core::StatusCode::kInvalidArgument);
  Surface s = Analytic(Linspace(-1, 1, 5), Linspace(-1, 1, 5), [](double x, double y) { return x + y; });
  s.metrics["train_loss"][7] = NAN;
  MeshOptions up;
  up.interp = 10;
  auto r = BuildMesh(s, up);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("missing or non-finite"), std::string::npos);
  MeshOptions m;
  m.metric = "test_loss";
  EXPECT_FALSE(BuildMesh(s, m).ok());
  MeshOptions one_point;
  one_point.interp = 1;
  EXPECT_FALSE(BuildMesh(s, one_point).ok());
  // Without resampling the NaN point is kept but its 4 cells are left out.
  auto ok = BuildMesh(s, {});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->ValidCellCount(), 16u - 4u);
  EXPECT_EQ(ok->valid[7], 0);
}

TEST(Mesh, LabelsCannotBreakTheFiles) {
  Surface s = Analytic(Linspace(-1, 1, 3), Linspace(0, 1, 2), [](double x, double y) { return x + y; });
  s.attributes["label_note"] = "a--b\n<c> & \"d\"";
  auto m = BuildMesh(s, {});
  ASSERT_TRUE(m.ok());
  const std::string vtp = TempPath("l.vtp"), obj = TempPath("l.obj");
  ASSERT_TRUE(WriteVtp(vtp, *m).ok());
  ASSERT_TRUE(WriteObj(obj, *m).ok());
  const std::string v = ReadText(vtp);
  const size_t open = v.find("<!--"), close = v.find("-->");
  ASSERT_NE(close, std::string::npos);
  EXPECT_EQ(v.substr(open + 4, close - open - 4).find("--"), std::string::npos) << "no -- inside an XML comment";
  EXPECT_EQ(v.find("<c>"), std::string::npos);
  size_t lines = 0;
  std::istringstream in(ReadText(obj));
  std::string line;
  while (std::getline(in, line)) {
    EXPECT_TRUE(line.empty() || line[0] == '#' || line[0] == 'v' || line[0] == 'f' || line[0] == 'o') << line;
    ++lines;
  }
  EXPECT_EQ(lines, 4u + 6u + 2u);  // 3 comments and "o", 6 vertices, 2 faces
  std::filesystem::remove(vtp);
  std::filesystem::remove(obj);
}

TEST(Mesh, ObjHasOneVertexPerPointAndOneQuadPerCell) {
  Surface s = Analytic(Linspace(-1, 1, 6), Linspace(0, 1, 4), [](double x, double y) { return x * y; });
  s.attributes["label_commit"] = "abc";
  auto m = BuildMesh(s, {});
  ASSERT_TRUE(m.ok());
  const std::string path = TempPath("m.obj");
  ASSERT_TRUE(WriteObj(path, *m).ok());
  std::istringstream in(ReadText(path));
  std::string line;
  size_t v = 0, f = 0;
  bool label = false;
  while (std::getline(in, line)) {
    if (line.rfind("v ", 0) == 0) ++v;
    if (line.rfind("f ", 0) == 0) {
      ++f;
      std::istringstream fs(line.substr(2));
      int a, b, c, d;
      ASSERT_TRUE(fs >> a >> b >> c >> d);
      EXPECT_GE(a, 1);
      EXPECT_LE(d, 24);
      EXPECT_EQ(b, a + 1);
      EXPECT_EQ(c, a + 6 + 1);
      EXPECT_EQ(d, a + 6);
    }
    if (line == "# label commit=abc") label = true;
  }
  EXPECT_EQ(v, 24u);
  EXPECT_EQ(f, 15u);
  EXPECT_TRUE(label);
  std::filesystem::remove(path);
}

// ---- sharpness scalars ---------------------------------------------------------------------

// L = x^2 + y^2 on [-1, 1]^2, 21 x 21 (step 0.1): closed-form answers.
TEST(Scalars, BowlHasKnownSharpness) {
  Surface s = Analytic(Linspace(-1, 1, 21), Linspace(-1, 1, 21), [](double x, double y) { return x * x + y * y; });
  const Scalars sc = SummaryScalars(s);
  EXPECT_DOUBLE_EQ(*sc.at("train_loss.min"), 0.0);
  EXPECT_NEAR(*sc.at("train_loss.max"), 2.0, 1e-12);
  EXPECT_DOUBLE_EQ(*sc.at("train_loss.centre"), 0.0);
  EXPECT_DOUBLE_EQ(*sc.at("nan"), 0.0);
  EXPECT_DOUBLE_EQ(*sc.at("points"), 441.0);
  // Within r, the largest increase is the largest (i^2 + j^2) / 100 with
  // i^2 + j^2 <= (10 r)^2 over integer steps i, j: 0.01, 0.05, 0.25, 1.
  const std::map<double, double> expected{{0.1, 0.01}, {0.25, 0.05}, {0.5, 0.25}, {1.0, 1.0}};
  for (const auto& [r, inc] : expected) {
    EXPECT_NEAR(*sc.at("max_loss_increase@" + ScalarNumber(r)), inc, 1e-9) << r;
    EXPECT_NEAR(*sc.at("train_loss.max_increase@" + ScalarNumber(r)), inc, 1e-9) << r;
  }
  // Mean within 0.1: the centre (0) and its 4 neighbours (0.01 each).
  EXPECT_NEAR(*sc.at("mean_loss_increase@0.1"), 4 * 0.01 / 5, 1e-12);
  // Basin below 0 + 0.105: the 37 grid points with i^2 + j^2 <= 10 (a disk,
  // 4-connected), each an interior 0.1 x 0.1 cell. (0.105, not 0.1: points
  // exactly on the level would be decided by rounding.)
  int count = 0;
  for (int i = -10; i <= 10; ++i) {
    for (int j = -10; j <= 10; ++j) count += (i * i + j * j <= 10) ? 1 : 0;
  }
  ASSERT_EQ(count, 37);
  SharpnessOptions eps;
  eps.basin_epsilons = {0.105};
  const Scalars b = SummaryScalars(s, eps);
  EXPECT_NEAR(*b.at("basin_area@0.105"), count * 0.01, 1e-12);
  EXPECT_NEAR(*b.at("basin_fraction@0.105"), count * 0.01 / 4.0, 1e-12);
  // The whole grid is below 0 + 2.
  SharpnessOptions all;
  all.basin_epsilons = {2.0};
  EXPECT_NEAR(*SummaryScalars(s, all).at("basin_fraction@2"), 1.0, 1e-12);
}

TEST(Scalars, BasinIsConnectedToTheCentre) {
  // Two wells: the centre's and a deeper one at x = 0.8 behind a wall at x = 0.4.
  Surface s = Analytic(Linspace(-1, 1, 11), {}, [](double x, double) {
    if (std::fabs(x - 0.4) < 0.05) return 5.0;
    if (x > 0.6 && x < 1.0) return 0.0;
    return std::fabs(x);
  });
  SharpnessOptions o;
  o.basin_epsilons = {0.3};
  const Scalars sc = SummaryScalars(s, o);
  // Connected points with L <= 0.3: x = -0.2, 0, 0.2 (width 0.2 each); the
  // deeper well at 0.6 and 0.8 is cut off by the wall.
  EXPECT_NEAR(*sc.at("basin_area@0.3"), 3 * 0.2, 1e-12);
  EXPECT_NEAR(*sc.at("basin_fraction@0.3"), 0.6 / 2.0, 1e-12);
}

TEST(Scalars, MissingCentreAndNaNs) {
  Surface s = Analytic(Linspace(-1, 1, 5), Linspace(-1, 1, 5), [](double x, double y) { return x + y + 3; });
  s.metrics["train_loss"][3] = NAN;
  s.metrics["train_acc"][4] = INFINITY;
  s.done[12] = 0;  // the centre
  const Scalars sc = SummaryScalars(s);
  EXPECT_DOUBLE_EQ(*sc.at("nan"), 2.0);
  EXPECT_DOUBLE_EQ(*sc.at("missing"), 1.0);
  EXPECT_FALSE(sc.at("train_loss.centre").has_value());
  EXPECT_FALSE(sc.at("max_loss_increase@0.5").has_value());
  EXPECT_DOUBLE_EQ(*sc.at("train_err.max"), 5.0);  // derived metrics get scalars too: 100 - acc = L
  EXPECT_DOUBLE_EQ(*sc.at("train_err.nan"), 1.0);
}

TEST(Summary, JsonHasSharpnessLabelsAndScalars) {
  Surface s = Analytic(Linspace(-1, 1, 5), Linspace(-1, 1, 5), [](double x, double y) { return x * x + y * y; });
  s.attributes["label_repository"] = "org/repo";
  s.attributes["spec"] = R"({"labels": {"run": "9"}, "model": {"model": "m.pt"}})";
  SummaryContext ctx;
  const std::string j = SurfaceSummaryJson(s, ctx);
  // Scalar names nest: max_loss_increase@0.5 is scalars.max_loss_increase."0.5", train_loss.min is
  // scalars.train_loss.min (the flat names stay in CSV, text and --fail-if).
  const auto parsed = nlohmann::json::parse(j);
  EXPECT_EQ(parsed["scalars"]["max_loss_increase"]["0.5"], 0.25) << j;
  EXPECT_EQ(parsed["scalars"]["train_loss"]["min"], 0.0) << j;
  EXPECT_TRUE(parsed["scalars"]["train_loss"]["basin_area"].contains("0.5")) << j;
  EXPECT_EQ(j.find("max_loss_increase@"), std::string::npos) << j;
  EXPECT_NE(j.find("\"repository\": \"org/repo\""), std::string::npos);
  EXPECT_NE(j.find("\"run\": \"9\""), std::string::npos);
  EXPECT_NE(j.find("\"loss_increase_within_radius\""), std::string::npos);
}

TEST(Csv, LabelsAreConstantColumns) {
  Surface s = Analytic(Linspace(-1, 1, 3), {}, [](double x, double) { return x; });
  s.attributes["label_commit"] = "abc";
  s.attributes["label_run"] = "a,b";
  const std::string path = TempPath("s.csv");
  ASSERT_TRUE(WriteSurfaceCsv(path, s).ok());
  std::istringstream in(ReadText(path));
  std::string header, row;
  std::getline(in, header);
  std::getline(in, row);
  EXPECT_EQ(header, "ix,x,done,train_loss,train_acc,label_commit,label_run");
  EXPECT_EQ(row, "0,-1,1,-1,101,abc,\"a,b\"");
  std::filesystem::remove(path);
}

// ---- gates -------------------------------------------------------------------------------

TEST(Gates, ParseStrictly) {
  auto g = ParseGate("max_loss_increase@0.50 > 0.3");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->scalar, "max_loss_increase@0.5");
  EXPECT_EQ(g->op, Gate::Op::kGt);
  EXPECT_DOUBLE_EQ(g->threshold, 0.3);
  EXPECT_EQ(ParseGate("nan>0")->scalar, "nan");
  EXPECT_EQ(ParseGate("train_loss.min>=1e-3")->op, Gate::Op::kGe);
  EXPECT_EQ(ParseGate("basin_fraction@1.0<0.2")->scalar, "basin_fraction@1");
  EXPECT_EQ(ParseGate("x!=-2")->threshold, -2);
  for (const char* bad : {"", "nan", "nan>", ">0", "nan>>0", "nan>0x10", "nan>inf", "nan > 1 2", "1nan>0",
                          "max_loss_increase@>0.3", "max_loss_increase@-1>0", "nan=0", "a b>1", "train_loss.>1",
                          "nan>nan"}) {
    auto r = ParseGate(bad);
    EXPECT_FALSE(r.ok()) << "'" << bad << "' parsed";
    if (!r.ok()) {
      EXPECT_EQ(r.status().field(), "--fail-if");
    }
  }
}

TEST(Gates, EvaluateAndAskForTheirRadii) {
  Surface s = Analytic(Linspace(-1, 1, 21), Linspace(-1, 1, 21), [](double x, double y) { return x * x + y * y; });
  std::vector<Gate> gates{*ParseGate("max_loss_increase@0.3>0.05"), *ParseGate("basin_area@0.02<1")};
  SharpnessOptions o;
  AddGateSharpness(gates, &o);
  const Scalars sc = SummaryScalars(s, o);
  auto a = EvaluateGate(gates[0], sc);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_NEAR(a->value, 0.09, 1e-12);
  EXPECT_TRUE(a->crossed);
  auto b = EvaluateGate(gates[1], sc);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(b->crossed);
  EXPECT_FALSE(EvaluateGate(*ParseGate("nan>0"), sc)->crossed);
  auto unknown = EvaluateGate(*ParseGate("test_loss.min>1"), sc);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("no scalar 'test_loss.min'"), std::string::npos);
}

}  // namespace
}  // namespace landscape::io
