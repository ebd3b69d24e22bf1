// `landscape plot | export | report` as a user runs them: real files in, real
// files out, checked by independent python3 oracles (h5py, numpy, xml.etree,
// html.parser in tests/integration/oracle/file_checks/) and by exit codes (docs/design.md §6).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "landscape/core/grid.h"
#include "landscape/io/hdf5_files.h"

namespace landscape {
namespace {

namespace fs = std::filesystem;

const std::string kLandscape = std::string(LANDSCAPE_BINARY_DIR) + "/client/landscape";
const std::string kOracles = std::string(LANDSCAPE_SOURCE_DIR) + "/tests/integration/oracle/file_checks/";
const std::string kPython = LANDSCAPE_ORACLE_PYTHON;

class PicturesCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("landscape_pictures_cli_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    ASSERT_TRUE(fs::exists(kLandscape)) << kLandscape;
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // Runs a shell command; returns its exit code and keeps its output in output_.
  int Run(const std::string& cmd) {
    const std::string log = Path("last_command.log");
    const int rc = std::system((cmd + " >" + log + " 2>&1").c_str());
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    output_ = ss.str();
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }
  int Landscape(const std::string& args) { return Run(kLandscape + " " + args); }
  int Oracle(const std::string& script, const std::string& args) {
    return Run(kPython + " " + kOracles + script + " " + args);
  }

  fs::path dir_;
  std::string output_;
};

// (x - 0.3)^2 + 3 (y + 0.1)^2 + 1: asymmetric, so a transposed or flipped file shows.
double Bowl(double x, double y) { return (x - 0.3) * (x - 0.3) + 3 * (y + 0.1) * (y + 0.1) + 1; }
const char* kBowlPython = "(x - 0.3)**2 + 3*(y + 0.1)**2 + 1";

// A non-square surface (nx 21, ny 11) written by the same code as `landscape local`.
io::Surface WriteBowl(const std::string& path, bool with_holes = false) {
  core::GridSpec g;
  g.x = {-1, 1, 21};
  g.y = core::AxisSpec{-0.6, 0.4, 11};
  io::Surface s = io::NewSurface(g, {"train_loss", "train_acc", "test_loss", "test_acc"}, "bowl.dirs.h5");
  for (size_t iy = 0; iy < s.ny(); ++iy) {
    for (size_t ix = 0; ix < s.nx(); ++ix) {
      const size_t k = iy * s.nx() + ix;
      const double v = Bowl(s.x[ix], s.y[iy]);
      s.metrics["train_loss"][k] = v;
      s.metrics["train_acc"][k] = 100 - 20 * v;
      s.metrics["test_loss"][k] = 1.1 * v;
      s.metrics["test_acc"][k] = 95 - 20 * v;
      s.done[k] = 1;
    }
  }
  if (with_holes) {
    // A diagonal wall (ix - iy == 12): it separates the lower-right corner from
    // the centre for 4-connected basins but not for 8-connected ones.
    for (size_t iy = 0; iy < s.ny(); ++iy) {
      for (size_t ix = 0; ix < s.nx(); ++ix) {
        if (ix == iy + 12) s.metrics["train_loss"][iy * s.nx() + ix] = 50;
      }
    }
    s.metrics["train_loss"][5] = NAN;         // a diverged point
    s.metrics["test_acc"][40] = INFINITY;     // a broken value in another metric
    s.done[s.PointCount() - 1] = 0;           // a point not computed yet
  }
  s.attributes["spec"] =
      R"({"model":{"model":"runs/model_300.pt","arch":""},"data":{"source":"fashion-mnist","split":"both",)"
      R"("max_samples":500},"loss":"crossentropy","directions":{"kind":"random","type":"weights",)"
      R"("x":{"norm":"filter","ignore":"biasbn"},"seed":123},"labels":{"run":"17"},"name":"bowl"})";
  s.attributes["label_repository"] = "example/landscape";
  s.attributes["label_commit"] = "abc1234";
  EXPECT_TRUE(io::WriteSurfaceFile(path, s).ok());
  return s;
}

void Write1d(const std::string& path, double curvature) {
  core::GridSpec g;
  g.x = {-1, 1, 41};
  io::Surface s = io::NewSurface(g, {"train_loss", "train_acc", "test_loss", "test_acc"}, "d.h5");
  for (size_t i = 0; i < s.nx(); ++i) {
    const double v = curvature * s.x[i] * s.x[i] + 0.5;
    s.metrics["train_loss"][i] = v;
    s.metrics["train_acc"][i] = 95 - 10 * v;
    s.metrics["test_loss"][i] = v + 0.1;
    s.metrics["test_acc"][i] = 90 - 10 * v;
    s.done[i] = 1;
  }
  EXPECT_TRUE(io::WriteSurfaceFile(path, s).ok());
}

TEST_F(PicturesCli, OurSurfaceFilesHaveTheReferencesLayout) {
  const std::string h5 = Path("bowl.h5");
  WriteBowl(h5);
  EXPECT_EQ(Oracle("reference_layout.py", h5 + " '" + kBowlPython + "'"), 0) << output_;
  const std::string one = Path("one.h5");
  Write1d(one, 2.0);
  EXPECT_EQ(Oracle("reference_layout.py", one + " '2.0*x**2 + 0.5'"), 0) << output_;
}

TEST_F(PicturesCli, VtpParsesAndMatchesTheSurface) {
  const std::string h5 = Path("bowl.h5");
  WriteBowl(h5);
  const std::string vtp = Path("bowl.vtp");
  ASSERT_EQ(Landscape("export " + h5 + " --out " + vtp + " --label run=99"), 0) << output_;
  EXPECT_EQ(Oracle("vtp.py", vtp + " " + h5 + " train_loss --label run=99 --label commit=abc1234"), 0) << output_;
  // h52vtp's options: a derived metric, clipping, the log, resampling.
  const std::string clipped = Path("clipped.vtp");
  ASSERT_EQ(Landscape("export " + h5 + " --format vtp --metric test_err --zmax 70 --log --out " + clipped), 0)
      << output_;
  EXPECT_EQ(Oracle("vtp.py", clipped + " " + h5 + " test_err --zmax 70 --log"), 0) << output_;
  const std::string fine = Path("fine.vtp");
  ASSERT_EQ(Landscape("export " + h5 + " --interp 41 --out " + fine), 0) << output_;  // 41 - 1 = 2 (21 - 1) = 4 (11 - 1)
  EXPECT_EQ(Oracle("vtp.py", fine + " " + h5 + " train_loss --interp 41"), 0) << output_;
}

TEST_F(PicturesCli, ObjHasTheSurfacesVerticesAndQuads) {
  const std::string h5 = Path("bowl.h5");
  WriteBowl(h5);
  const std::string obj = Path("bowl.obj");
  ASSERT_EQ(Landscape("export " + h5 + " --out " + obj), 0) << output_;
  EXPECT_EQ(Oracle("obj.py", obj + " " + h5 + " train_loss"), 0) << output_;
}

TEST_F(PicturesCli, SummaryMatchesAnIndependentComputation) {
  const std::string h5 = Path("holes.h5");
  WriteBowl(h5, /*with_holes=*/true);
  const std::string json = Path("summary.json");
  // A gate on an extra radius makes the summary carry it too.
  ASSERT_EQ(Landscape("report " + h5 + " --out " + Path("r.html") + " --no-pictures --json " + json +
                      " --fail-if 'train_loss.max_increase@0.35>100' --fail-if 'basin_area@0.2<0'"),
            0)
      << output_;
  EXPECT_EQ(Oracle("summary.py", json + " " + h5), 0) << output_;
  std::ifstream in(json);
  std::stringstream ss;
  ss << in.rdbuf();
  // Nested by the names' parts: scalars.train_loss.max_increase."0.35", scalars.basin_area."0.2".
  EXPECT_NE(ss.str().find("\"0.35\": "), std::string::npos) << ss.str();
  EXPECT_NE(ss.str().find("\"0.2\": "), std::string::npos) << ss.str();
  EXPECT_EQ(ss.str().find("max_increase@"), std::string::npos) << ss.str();
  EXPECT_NE(ss.str().find("\"repository\": \"example/landscape\""), std::string::npos);
  EXPECT_NE(ss.str().find("\"run\": \"17\""), std::string::npos);
  // `export --format json` writes the same summary.
  const std::string json2 = Path("export.json");
  ASSERT_EQ(Landscape("export " + h5 + " --out " + json2), 0) << output_;
  EXPECT_EQ(Oracle("summary.py", json2 + " " + h5), 0) << output_;
}

TEST_F(PicturesCli, GatesExitFourWhenCrossedZeroWhenNotTwoWhenMalformed) {
  const std::string h5 = Path("bowl.h5");
  WriteBowl(h5);
  const std::string out = " --no-pictures --out " + Path("r.html");
  // The bowl's increase within 0.5 of the centre (0, 0): the grid's max of
  // (x - 0.3)^2 + 3 (y + 0.1)^2 + 1 - 1.12 over points with |(x, y)| <= 0.5.
  EXPECT_EQ(Landscape("report " + h5 + out + " --fail-if 'max_loss_increase@0.5>5'"), 0) << output_;
  EXPECT_EQ(Landscape("report " + h5 + out + " --fail-if 'max_loss_increase@0.5>0.3'"), 4) << output_;
  EXPECT_NE(output_.find("FAILED"), std::string::npos);
  EXPECT_EQ(Landscape("report " + h5 + out + " --fail-if 'nan>0' --fail-if 'train_loss.min>1.5'"), 0) << output_;
  EXPECT_EQ(Landscape("report " + h5 + out + " --fail-if 'nan>0' --fail-if 'train_loss.min>0.5'"), 4) << output_;
  EXPECT_EQ(Landscape("report " + h5 + out + " --fail-if 'max_loss_increase@0.5>>0.3'"), 2) << output_;
  EXPECT_NE(output_.find("cannot parse gate"), std::string::npos) << output_;
  EXPECT_EQ(Landscape("report " + h5 + out + " --fail-if 'sharpness>1'"), 2) << output_;
  EXPECT_NE(output_.find("no scalar 'sharpness'"), std::string::npos) << output_;
  EXPECT_EQ(Landscape("report " + h5 + out + " --fail-if 'eig_ratio.max>0.1'"), 2) << output_;
  const std::string holes = Path("holes.h5");
  WriteBowl(holes, true);
  EXPECT_EQ(Landscape("report " + holes + out + " --fail-if 'nan>0'"), 4) << output_;
  EXPECT_EQ(Landscape("report " + holes + out + " --fail-if 'missing>=1'"), 4) << output_;
}

TEST_F(PicturesCli, ReportIsOneSelfContainedFile) {
  const std::string h5 = Path("bowl.h5");
  WriteBowl(h5);
  const std::string html = Path("report.html");
  ASSERT_EQ(Landscape("report " + h5 + " --out " + html + " --fail-if 'nan>0' --label pipeline=nightly"), 0)
      << output_;
  EXPECT_EQ(Oracle("report.py", html + " 4 example/landscape abc1234 17 nightly max_loss_increase@0.5 'nan > 0'"),
            0)
      << output_;
}

TEST_F(PicturesCli, PlotWritesEveryKindAndRefusesBadInput) {
  const std::string h5 = Path("bowl.h5");
  WriteBowl(h5);
  ASSERT_EQ(Landscape("plot " + h5 + " --kind all --out " + Path("bowl.png")), 0) << output_;
  for (const char* kind : {"contour", "filled", "heat", "3d"}) {
    EXPECT_GT(fs::file_size(Path(std::string("bowl_") + kind + ".png")), 10000u) << kind;
  }
  EXPECT_EQ(Landscape("plot " + h5 + " --metric test_err --vmin 60 --vmax 80 --vlevel 2 --out " + Path("e.svg")), 0)
      << output_;
  const std::string one = Path("one.h5"), two = Path("two.h5");
  Write1d(one, 1.0);
  Write1d(two, 3.0);
  EXPECT_EQ(Landscape("plot " + one + " --overlay sharp=" + two + " --log --out " + Path("one.pdf")), 0) << output_;

  EXPECT_EQ(Landscape("plot " + h5 + " --metric min_eig --out " + Path("x.png")), 2) << output_;
  EXPECT_NE(output_.find("no metric 'min_eig'"), std::string::npos) << output_;
  EXPECT_EQ(Landscape("plot " + one + " --kind 3d --out " + Path("x.png")), 2) << output_;
  EXPECT_EQ(Landscape("plot " + h5 + " --kind trajectory --out " + Path("x.png")), 2) << output_;
  EXPECT_EQ(Landscape("plot " + h5 + " --vmin 3 --vmax 1 --out " + Path("x.png")), 2) << output_;
  EXPECT_EQ(Landscape("plot " + h5 + " --out " + Path("x.bmp")), 2) << output_;
  EXPECT_EQ(Landscape("plot " + Path("missing.h5") + " --out " + Path("x.png")), 2) << output_;
  std::ofstream(Path("text.h5")) << "not a surface\n";  // a given file that is not HDF5: bad input, not a crash
  EXPECT_EQ(Landscape("plot " + Path("text.h5") + " --out " + Path("x.png")), 2) << output_;
  EXPECT_NE(output_.find("not an HDF5 file"), std::string::npos) << output_;
  EXPECT_EQ(Landscape("plot " + h5 + " --kind pie --out " + Path("x.png")), 2) << output_;
  EXPECT_FALSE(fs::exists(Path("x.png")));
  EXPECT_EQ(Landscape("export " + one + " --format vtp --out " + Path("x.vtp")), 2) << output_;
  EXPECT_EQ(Landscape("export " + h5 + " --format stl --out " + Path("x.stl")), 2) << output_;
}

// --vmin/--vmax/--vlevel/--log/--scale: a bad combination is exit 2 naming the
// flag, before the surface is read (here it does not even exist) and before any
// picture is written; a log scale over values <= 0 is refused before the first.
TEST_F(PicturesCli, ScaleOptionsAreCheckedBeforeAnyWork) {
  const std::string missing = Path("missing.h5"), out = " --out " + Path("x.png");
  auto refused = [&](const std::string& flags, const std::string& flag) {
    EXPECT_EQ(Landscape("plot " + missing + " " + flags + out), 2) << flags << ": " << output_;
    EXPECT_NE(output_.find(flag + ":"), std::string::npos) << flags << ": " << output_;
    EXPECT_EQ(output_.find("missing.h5"), std::string::npos) << "checked before reading: " << output_;
  };
  refused("--vmin 2 --vmax 1", "--vmax");
  refused("--vmin 1 --vmax 1", "--vmax");
  refused("--vlevel 0", "--vlevel");
  refused("--vlevel -0.5", "--vlevel");
  refused("--log --vmin 0", "--log");
  refused("--log --scale linear", "--log");
  refused("--scale cubic", "--scale");

  core::GridSpec g;
  g.x = {-1, 1, 11};
  g.y = core::AxisSpec{-1, 1, 11};
  io::Surface s = io::NewSurface(g, {"train_loss"}, "d.h5");
  for (size_t k = 0; k < s.PointCount(); ++k) {
    s.metrics["train_loss"][k] = s.x[k % s.nx()];  // -1 .. 1
    s.done[k] = 1;
  }
  const std::string h5 = Path("signed.h5");
  ASSERT_TRUE(io::WriteSurfaceFile(h5, s).ok());
  EXPECT_EQ(Landscape("plot " + h5 + " --kind all --log --out " + Path("s.png")), 2) << output_;
  EXPECT_NE(output_.find("--log: a log scale needs positive values; train_loss goes down to -1"), std::string::npos)
      << output_;
  for (const char* kind : {"contour", "filled", "heat", "3d"}) {
    EXPECT_FALSE(fs::exists(Path(std::string("s_") + kind + ".png"))) << kind;
  }
  EXPECT_EQ(Landscape("plot " + h5 + " --kind filled --scale linear --out " + Path("lin.png")), 0) << output_;
  const std::string bowl = Path("bowl.h5");
  WriteBowl(bowl);
  EXPECT_EQ(Landscape("plot " + bowl + " --kind heat --scale log --out " + Path("log.png")), 0) << output_;
  EXPECT_EQ(Landscape("plot " + bowl + " --kind 3d --vmin 1 --vmax 3 --out " + Path("clamped.png")), 0) << output_;
}

TEST_F(PicturesCli, TrajectoryFromAProjectionFile) {
  const std::string h5 = Path("bowl.h5");
  WriteBowl(h5);
  io::Projection p;
  p.x = {-0.9, -0.5, -0.1, 0.2, 0.3};
  p.y = {-0.5, -0.4, -0.2, -0.1, -0.1};
  ASSERT_TRUE(io::WriteProjectionFile(Path("proj.h5"), p).ok());
  io::DirectionSet d;
  d.x.push_back(io::HostArray::FromFloats({2}, {1, 0}));
  d.y.push_back(io::HostArray::FromFloats({2}, {0, 1}));
  d.pca = io::PcaInfo{{0.6123, 0.2}, {3, 2}, {1, 0.5}};
  ASSERT_TRUE(io::WriteDirectionFile(Path("pca.h5"), d).ok());
  EXPECT_EQ(Landscape("plot " + h5 + " --kind trajectory --proj-file " + Path("proj.h5") + " --dir-file " +
                      Path("pca.h5") + " --out " + Path("t.png")),
            0)
      << output_;
  // The surface's own dir_file does not exist here: the picture is drawn, with a note.
  EXPECT_EQ(Landscape("plot " + h5 + " --kind trajectory --proj-file " + Path("proj.h5") + " --out " + Path("u.png")),
            0)
      << output_;
  EXPECT_NE(output_.find("without PC percentages"), std::string::npos) << output_;
  EXPECT_EQ(Landscape("plot " + h5 + " --kind trajectory --proj-file " + Path("nope.h5") + " --out " + Path("v.png")),
            2)
      << output_;
  // Without a surface: the path alone (the reference draws it when only proj and dir files exist).
  EXPECT_EQ(Landscape("plot --proj-file " + Path("proj.h5") + " --dir-file " + Path("pca.h5") + " --out " +
                      Path("alone.png")),
            0)
      << output_;
  EXPECT_GT(fs::file_size(Path("alone.png")), 5000u);
  EXPECT_EQ(Landscape("plot --proj-file " + Path("proj.h5") + " --kind contour --out " + Path("w.png")), 2) << output_;
  EXPECT_NE(output_.find("needs a surface file"), std::string::npos) << output_;
  EXPECT_EQ(Landscape("plot --out " + Path("w.png")), 2) << output_;
  EXPECT_FALSE(fs::exists(Path("w.png")));
}

}  // namespace
}  // namespace landscape
