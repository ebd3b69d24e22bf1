// `landscape local` and `landscape train` as users run them: the real binary,
// real files, Debian's Fashion-MNIST. Bad input must give a clear message and
// exit code 2 (or 1), never a crash; resuming must give the same surface.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "landscape/io/hdf5_files.h"
#include "process.h"

namespace landscape {
namespace {

// The result of one run of the CLI: its exit code (128 + signal when killed,
// -1 on timeout) and what it printed (stdout and stderr together).
using ProcessResult = testing::CommandResult;


class CliLocal : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::MakeTempDir("cli"));
    auto r = testing::RunCommand({Cli(), "export-arch", "--arch", "cnn", "--input", "1x28x28", "--out", *dir_ + "/cnn.pt"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    r = testing::RunCommand({Cli(), "export-arch", "--arch", "cnn", "--input", "3x32x32", "--out", *dir_ + "/cnn_rgb.pt"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::ofstream(*dir_ + "/garbage.pt") << "this is not a model";
    // A zip header followed by junk: looks like an archive, is not one.
    std::ofstream(*dir_ + "/corrupt.pt", std::ios::binary) << std::string("PK\x03\x04", 4) << std::string(200, 'x');
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  static std::string Cli() { return testing::Binary("client/landscape"); }
  static std::string Path(const std::string& name) { return *dir_ + "/" + name; }

  // `landscape local` on the small model with a few samples, plus extra flags.
  static ProcessResult Local(std::vector<std::string> extra) {
    auto has = [&](const char* flag) { return std::find(extra.begin(), extra.end(), flag) != extra.end(); };
    std::vector<std::string> argv = {Cli(), "local", "--max-samples", "64", "--threads", "1", "--progress", "lines"};
    if (!has("--model")) argv.insert(argv.end(), {"--model", Path("cnn.pt")});
    if (!has("--data")) argv.insert(argv.end(), {"--data", "fashion-mnist"});
    argv.insert(argv.end(), extra.begin(), extra.end());
    return testing::RunCommand(argv);
  }

  static void ExpectCleanFailure(const ProcessResult& r, int code, const std::string& needle) {
    EXPECT_LT(r.exit_code, 128) << "killed by a signal or timed out\n" << r.output;
    EXPECT_EQ(r.exit_code, code) << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << "output: " << r.output;
    EXPECT_EQ(r.output.find("terminate called"), std::string::npos) << r.output;
  }

  static std::string* dir_;
};
std::string* CliLocal::dir_ = nullptr;

TEST_F(CliLocal, MissingModelFile) {
  ExpectCleanFailure(Local({"--model", Path("nope.pt"), "--x", "-1:1:3", "--out", Path("o.h5")}), 2,
                     "no such file");
}

TEST_F(CliLocal, NotAModel) {
  ExpectCleanFailure(Local({"--model", Path("garbage.pt"), "--x", "-1:1:3", "--out", Path("o.h5")}), 2,
                     "not a model file");
}

TEST_F(CliLocal, CorruptArchive) {
  ExpectCleanFailure(Local({"--model", Path("corrupt.pt"), "--x", "-1:1:3", "--out", Path("o.h5")}), 2, "corrupt");
}

TEST_F(CliLocal, DataThatDoNotFitTheModel) {
  auto r = Local({"--model", Path("cnn_rgb.pt"), "--x", "-1:1:3", "--out", Path("o.h5")});
  ExpectCleanFailure(r, 2, "do not fit the model");
  EXPECT_NE(r.output.find("[1, 28, 28]"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(Path("o.h5")));  // nothing computed
}

TEST_F(CliLocal, UnknownNorm) {
  ExpectCleanFailure(Local({"--xnorm", "filters", "--x", "-1:1:3", "--out", Path("o.h5")}), 2, "--xnorm");
}

TEST_F(CliLocal, EmptyAndNanRanges) {
  ExpectCleanFailure(Local({"--x", "1:1:5", "--out", Path("o.h5")}), 2, "empty range");
  ExpectCleanFailure(Local({"--x", "nan:1:5", "--out", Path("o.h5")}), 2, "finite");
  ExpectCleanFailure(Local({"--x", "-1:1:3", "--y", "0:1:0", "--out", Path("o.h5")}), 2, "--y");
}

TEST_F(CliLocal, MissingData) {
  ExpectCleanFailure(Local({"--data", "idx:" + Path("no-such-dir"), "--x", "-1:1:3", "--out", Path("o.h5")}), 2,
                     "no IDX");
}

TEST_F(CliLocal, MissingRequiredFlag) {
  auto r = testing::RunCommand({Cli(), "local", "--model", Path("cnn.pt")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--out"), std::string::npos) << r.output;
}

TEST_F(CliLocal, DirectionFileFromAnotherDirType) {
  auto r = Local({"--x", "-1:1:2", "--dir-type", "weights", "--out", Path("w.h5"), "--dir-out", Path("w.dirs.h5")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ExpectCleanFailure(Local({"--x", "-1:1:2", "--dir-type", "states", "--dir-file", Path("w.dirs.h5"), "--out",
                            Path("s.h5")}),
                     2, "the direction file was made with dir_type weights");
  // Another model's directions: no dir_type would fit, and the message says what it is instead.
  auto mlp = testing::RunCommand({Cli(), "export-arch", "--arch", "mlp", "--out", Path("mlp.pt")});
  ASSERT_EQ(mlp.exit_code, 0) << mlp.output;
  ExpectCleanFailure(Local({"--model", Path("mlp.pt"), "--x", "-1:1:2", "--dir-file", Path("w.dirs.h5"), "--out",
                            Path("m.h5")}),
                     2, "made for another model");
}

TEST_F(CliLocal, ComputesAndResumesToTheSameSurface) {
  // The evaluation path pinned: each run would otherwise measure its own fastest path, and a loaded
  // machine may pick another one in each (values then differ in the last bits).
  const std::vector<std::string> grid = {"--x",           "-1:1:6", "--y",      "-1:1:5", "--seed", "7",
                                         "--first-layer", "off",    "--onednn", "off",    "--data-parallel",
                                         "off",           "--no-optimize"};
  auto flags = [&](const std::string& out) {
    auto f = grid;
    f.insert(f.end(), {"--out", Path(out), "--save-interval", "0"});
    return f;
  };
  auto full = Local(flags("full.h5"));
  ASSERT_EQ(full.exit_code, 0) << full.output;

  // Interrupt a second run after a few points; it saves what it has and exits 130.
  std::vector<std::string> argv = {Cli(), "local", "--model", Path("cnn.pt"), "--data", "fashion-mnist",
                                   "--max-samples", "64", "--threads", "1", "--progress", "lines"};
  auto f = flags("part.h5");
  argv.insert(argv.end(), f.begin(), f.end());
  auto child = testing::Process::Start(argv, Path("part.log"));
  ASSERT_TRUE(child);
  // Wait until the partial file holds a few points, then interrupt.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  size_t done = 0;
  while (std::chrono::steady_clock::now() < deadline && child->Running()) {
    if (std::filesystem::exists(Path("part.h5"))) {
      auto s = io::ReadSurfaceFile(Path("part.h5"));
      if (s.ok()) done = s->DoneCount();
      if (done >= 3) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  child->Signal(SIGINT);
  const int status = child->Wait(std::chrono::milliseconds(60000));
  if (status == 130) {
    auto partial = io::ReadSurfaceFile(Path("part.h5"));
    ASSERT_TRUE(partial.ok());
    EXPECT_LT(partial->DoneCount(), partial->PointCount());
    EXPECT_NE(child->Log().find("run the same command to resume"), std::string::npos);
  } else {
    EXPECT_EQ(status, 0) << child->Log();  // finished before the signal: still consistent
  }

  auto resumed = Local(flags("part.h5"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  auto a = io::ReadSurfaceFile(Path("full.h5"));
  auto b = io::ReadSurfaceFile(Path("part.h5"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(b->DoneCount(), b->PointCount());
  EXPECT_EQ(a->metrics["train_loss"], b->metrics["train_loss"]);  // every value equal
  EXPECT_EQ(a->metrics["train_acc"], b->metrics["train_acc"]);

  // Resuming with a different spec is refused.
  auto g = grid;
  g[5] = "8";  // another seed
  g.insert(g.end(), {"--out", Path("full.h5")});
  ExpectCleanFailure(Local(g), 2, "different spec");
}

TEST_F(CliLocal, ResumesAPlaneThroughThreeModels) {
  // The resumed run reads its own direction file; it once failed validation here ("model3 needs model2").
  for (const char* seed : {"2", "3"}) {
    auto r = testing::RunCommand({Cli(), "export-arch", "--arch", "cnn", "--seed", seed, "--out",
                                  Path(std::string("cnn_s") + seed + ".pt")});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  const std::vector<std::string> flags = {"--model2", Path("cnn_s2.pt"), "--model3", Path("cnn_s3.pt"), "--x", "0:1:3",
                                          "--y", "0:1:2", "--out", Path("plane.h5")};
  auto first = Local(flags);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  // The CNN has BatchNorm: with target directions in weights mode, the corners are not the other models.
  EXPECT_NE(first.output.find("warning: the model has buffers"), std::string::npos) << first.output;
  auto again = Local(flags);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("6 of 6 points already computed"), std::string::npos) << again.output;

  // Another model saved under the same name: the same spec, other contents; resuming would mix the two.
  auto other = testing::RunCommand({Cli(), "export-arch", "--arch", "cnn", "--seed", "4", "--out", Path("cnn_s3.pt")});
  ASSERT_EQ(other.exit_code, 0) << other.output;
  ExpectCleanFailure(Local(flags), 2, "other contents of the input files");
  std::vector<std::string> overwrite = flags;
  overwrite.push_back("--overwrite");
  auto redone = Local(overwrite);
  EXPECT_EQ(redone.exit_code, 0) << redone.output;
  EXPECT_EQ(redone.output.find("already computed"), std::string::npos) << redone.output;
}

TEST_F(CliLocal, SeveralEnginesShareThePointsAndGiveTheSameSurface) {
  // `--device cpu,cpu`: two engines in one process, one thread each, points handed to whichever is free;
  // the second reads the first's direction file. Both run the model as loaded (no path measured and
  // chosen per engine), so every value must equal the one-engine run's.
  std::vector<std::string> flags = {"--x",          "-1:1:5", "--y",         "-1:1:4", "--seed", "3", "--split",
                                    "both",         "--no-optimize", "--onednn", "off", "--first-layer", "off",
                                    "--save-interval", "0"};
  auto with = [&](std::vector<std::string> more) {
    std::vector<std::string> f = flags;
    f.insert(f.end(), more.begin(), more.end());
    return f;
  };
  auto one = Local(with({"--out", Path("dev1.h5")}));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  auto two = Local(with({"--device", "cpu,cpu", "--out", Path("dev2.h5"), "--json", Path("dev2.json")}));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  auto a = io::ReadSurfaceFile(Path("dev1.h5"));
  auto b = io::ReadSurfaceFile(Path("dev2.h5"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(b->DoneCount(), 20u);
  for (const char* m : {"train_loss", "train_acc", "test_loss", "test_acc"}) EXPECT_EQ(a->metrics[m], b->metrics[m]) << m;

  // The log says how the points were shared: two counts adding up to the grid.
  const auto at = two.output.find("points per device: cpu ");
  ASSERT_NE(at, std::string::npos) << two.output;
  long n1 = -1, n2 = -1;
  ASSERT_EQ(std::sscanf(two.output.c_str() + at, "points per device: cpu %ld, cpu %ld", &n1, &n2), 2) << two.output;
  EXPECT_EQ(n1 + n2, 20);
  EXPECT_NE(two.output.find("also on cpu (1 threads)"), std::string::npos) << two.output;
  std::ifstream json(Path("dev2.json"));
  const std::string summary((std::istreambuf_iterator<char>(json)), std::istreambuf_iterator<char>());
  EXPECT_NE(summary.find("\"device\": \"cpu,cpu\""), std::string::npos) << summary;
}

TEST_F(CliLocal, BadDeviceLists) {
  ExpectCleanFailure(Local({"--device", "cpu,", "--x", "-1:1:3", "--out", Path("o.h5")}), 2, "empty entry");
  ExpectCleanFailure(Local({"--device", "cpu,tpu", "--x", "-1:1:3", "--out", Path("o.h5")}), 2, "device");
  EXPECT_FALSE(std::filesystem::exists(Path("o.h5")));
}

TEST_F(CliLocal, PackDataGivesTheDirectorysValues) {
  // An IDX directory written here (100 train, 30 test images of 28x28), packed with a seeded subset; the
  // printed flags on the packed file must give the surface of the directory, value for value.
  const std::string idx = Path("idx");
  std::filesystem::create_directories(idx);
  std::mt19937 rng(5);
  auto write = [&](const std::string& prefix, uint32_t n) {
    auto be32 = [](std::ofstream& f, uint32_t v) {
      for (int shift : {24, 16, 8, 0}) f.put(static_cast<char>((v >> shift) & 0xff));
    };
    std::ofstream images(idx + "/" + prefix + "-images-idx3-ubyte", std::ios::binary);
    std::ofstream labels(idx + "/" + prefix + "-labels-idx1-ubyte", std::ios::binary);
    be32(images, 0x803);
    be32(images, n);
    be32(images, 28);
    be32(images, 28);
    be32(labels, 0x801);
    be32(labels, n);
    for (uint32_t i = 0; i < n * 28 * 28; ++i) images.put(static_cast<char>(rng() % 256));
    for (uint32_t i = 0; i < n; ++i) labels.put(static_cast<char>(rng() % 10));
  };
  write("train", 100);
  write("t10k", 30);
  auto p = testing::RunCommand({Cli(), "pack-data", "--data", "idx:" + idx, "--split", "both", "--max-samples", "40",
                                "--subset-seed", "9", "--out", Path("packed.pt")});
  ASSERT_EQ(p.exit_code, 0) << p.output;
  EXPECT_NE(p.output.find("train 40 of 100, test 30 of 30 samples"), std::string::npos) << p.output;
  EXPECT_NE(p.output.find("--data " + Path("packed.pt") + " --normalize none"), std::string::npos) << p.output;
  // The same path in both runs (no per-run measured choice), so equal means equal data in equal order.
  const std::vector<std::string> same = {"--split", "both", "--x", "-1:1:3", "--y", "-1:1:2", "--no-optimize",
                                         "--onednn", "off", "--first-layer", "off"};
  auto run = [&](const std::vector<std::string>& data, const std::string& out) {
    std::vector<std::string> argv = {Cli(), "local", "--model", Path("cnn.pt"), "--threads", "1", "--out", Path(out)};
    argv.insert(argv.end(), data.begin(), data.end());
    argv.insert(argv.end(), same.begin(), same.end());
    return testing::RunCommand(argv);
  };
  auto from_dir = run({"--data", "idx:" + idx, "--max-samples", "40", "--subset-seed", "9"}, "from_dir.h5");
  ASSERT_EQ(from_dir.exit_code, 0) << from_dir.output;
  auto from_file = run({"--data", Path("packed.pt"), "--normalize", "none"}, "from_file.h5");
  ASSERT_EQ(from_file.exit_code, 0) << from_file.output;
  auto a = io::ReadSurfaceFile(Path("from_dir.h5"));
  auto b = io::ReadSurfaceFile(Path("from_file.h5"));
  ASSERT_TRUE(a.ok() && b.ok());
  for (const char* m : {"train_loss", "train_acc", "test_loss", "test_acc"}) EXPECT_EQ(a->metrics[m], b->metrics[m]) << m;

  ExpectCleanFailure(testing::RunCommand({Cli(), "pack-data", "--data", "fashion-mnist", "--out", Path("x.pt")}), 2,
                     "only idx: and cifar10: directories");
  ExpectCleanFailure(testing::RunCommand({Cli(), "pack-data", "--data", "idx:" + Path("nowhere"), "--out", Path("x.pt")}),
                     2, "no IDX train files");
}

TEST_F(CliLocal, TrainWritesTorchScriptCheckpointsThatLocalReads) {
  auto r = testing::RunCommand({Cli(), "train", "--arch", "mlp", "--data", "fashion-mnist", "--max-samples", "256", "--epochs", "2",
                "--eval-samples", "128", "--save-every", "1", "--threads", "1", "--out", Path("train")});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* f : {"model_0.pt", "model_1.pt", "model_2.pt", "train_log.csv", "train.json"}) {
    EXPECT_TRUE(std::filesystem::exists(Path("train/") + f)) << f;
  }
  EXPECT_NE(r.output.find("model_2.pt"), std::string::npos);
  // 1-D interpolation between the initialization and the trained model, as in the paper.
  auto l = Local({"--model", Path("train/model_2.pt"), "--model2", Path("train/model_0.pt"), "--dir-type", "states",
                  "--x", "-0.5:1.5:5", "--out", Path("interp.h5")});
  ASSERT_EQ(l.exit_code, 0) << l.output;
  EXPECT_EQ(l.output.find("warning"), std::string::npos) << l.output;  // states: BatchNorm statistics move too
  auto s = io::ReadSurfaceFile(Path("interp.h5"));
  ASSERT_TRUE(s.ok());
  // x = 0 is the trained model, x = 1 the initialization: training lowered the loss.
  EXPECT_LT(s->At("train_loss", 1), s->At("train_loss", 3));
}

}  // namespace
}  // namespace landscape
