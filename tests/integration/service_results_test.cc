// The whole service with real processes computes what `landscape local` computes: a redis-server of its
// own per test (free loopback ports), landscape-server, landscape-worker(s) and the landscape CLI, on a
// small CNN trained at the start of the test process. Surfaces are compared bit for bit with `landscape
// local` on the same spec; PCA and Hessian jobs, and a data directory packed with the job.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <regex>

#include "landscape/io/hdf5_files.h"
#include "service_test_support.h"

namespace landscape {
namespace {

using namespace service_test;  // the set-up the service_test files share
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::CountOf;
using testing::Process;
using testing::RunCommand;
using testing::WaitFor;

const std::string kCli = testing::CliBinary();

// --- 1. Two workers give the surface of `landscape local` -----------------------------------------

TEST(ServiceTest, TwoWorkersComputeTheSurfaceOfLocal) {
  testing::Cluster c(ServiceCluster());
  c.StartServer();
  Process* w1 = c.StartWorker("w1");
  Process* w2 = c.StartWorker("w2");
  const std::string out = c.dir() + "/remote.h5";
  std::vector<std::string> args{"submit", "--server", c.Addr(), "--out", out, "--progress", "lines"};
  auto spec = SpecArgs(200, 1);  // 20 tiles of one point: both workers get some
  args.insert(args.end(), spec.begin(), spec.end());
  auto r = c.Cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("SUCCEEDED"), std::string::npos) << r.output;
  ExpectSameSurface(LocalReference(200), out);
  // The direction file is the one `local` writes for the same spec.
  auto dl = io::ReadDirectionFile(Workdir() + "/local-200.dirs.h5");
  auto dr = io::ReadDirectionFile(c.dir() + "/remote.dirs.h5");
  ASSERT_TRUE(dl.ok() && dr.ok());
  ASSERT_EQ(dr->x.size(), dl->x.size());
  for (size_t i = 0; i < dl->x.size(); ++i) EXPECT_EQ(dr->x[i].bytes, dl->x[i].bytes) << i;
  for (size_t i = 0; i < dl->y.size(); ++i) EXPECT_EQ(dr->y[i].bytes, dl->y[i].bytes) << i;
  const int t1 = CountOf(w1->Log(), "tile done"), t2 = CountOf(w2->Log(), "tile done");
  EXPECT_EQ(t1 + t2, 20);
  EXPECT_GT(t1, 0) << "worker 1 computed nothing";
  EXPECT_GT(t2, 0) << "worker 2 computed nothing";
  // CSV and JSON of a finished job, and the job in the list.
  std::smatch job;
  ASSERT_TRUE(std::regex_search(r.output, job, std::regex("jobs/[0-9a-f]+")));
  auto g = c.Cli({"get", "--server", c.Addr(), "--csv", c.dir() + "/s.csv", "--json", c.dir() + "/s.json", job.str()});
  EXPECT_EQ(g.exit_code, 0) << g.output;
  EXPECT_EQ(CountOf(testing::ReadFile(c.dir() + "/s.csv"), "\n"), 21);  // header + 20 points
  auto l = c.Cli({"list", "--server", c.Addr(), "--state", "succeeded"});  // any case
  EXPECT_EQ(l.exit_code, 0) << l.output;
  EXPECT_NE(l.output.find("SUCCEEDED"), std::string::npos) << l.output;
  // The job ended: its direction file lives as long as its keys.
  const std::string id = job.str().substr(5);
  const std::string dir_key = "lls:" + c.JobField(id, "dir_artifact");
  EXPECT_GE(c.RedisInt({"TTL", dir_key}), c.RedisInt({"TTL", "lls:job:" + id}) - 5);
  // A direction file gone from Redis (expired) costs the download of the direction file, not the surface's.
  c.Redis({"DEL", dir_key});
  auto gone = c.Cli({"get", "--server", c.Addr(), "--out", c.dir() + "/again.h5", job.str()});
  EXPECT_EQ(gone.exit_code, 0) << gone.output;
  EXPECT_NE(gone.output.find("without its direction file"), std::string::npos) << gone.output;
  ExpectSameSurface(LocalReference(200), c.dir() + "/again.h5");
  EXPECT_FALSE(std::filesystem::exists(c.dir() + "/again.dirs.h5"));
}

// The paper's analyses as service jobs: PCA directions of a training run (checkpoints uploaded
// as artifacts, the projection published beside the directions) and Hessian eigenvalue maps.
TEST(ServiceTest, PcaAndHessianJobsGiveTheResultsOfLocal) {
  testing::Cluster c(ServiceCluster());
  c.StartServer();
  c.StartWorker("w1");
  c.StartWorker("w2");
  const std::string run = c.dir() + "/run";
  auto t = RunCommand({kCli, "train", "--arch", "mlp", "--data", "fashion-mnist", "--max-samples", "256", "--epochs",
                       "3", "--eval-samples", "-1", "--threads", "1", "--out", run});
  ASSERT_EQ(t.exit_code, 0) << t.output;
  const std::vector<std::string> spec{"--checkpoint-dir", run, "--pca-ignore", "biasbn", "--data", "fashion-mnist",
                                      "--max-samples", "64", "--x", "-1:1:3", "--y", "-1:1:3", "--hessian",
                                      "--hessian-samples", "32", "--tile-size", "2"};
  std::vector<std::string> local{kCli, "local", "--threads", "1", "--progress", "quiet", "--out", c.dir() + "/l.h5"};
  local.insert(local.end(), kPinnedPath.begin(), kPinnedPath.end());
  local.insert(local.end(), spec.begin(), spec.end());
  auto l = RunCommand(local);
  ASSERT_EQ(l.exit_code, 0) << l.output;
  std::vector<std::string> submit{"submit", "--server", c.Addr(), "--out", c.dir() + "/r.h5", "--progress", "quiet"};
  submit.insert(submit.end(), spec.begin(), spec.end());
  auto r = c.Cli(submit);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ExpectSameSurface(c.dir() + "/l.h5", c.dir() + "/r.h5");  // train loss/acc and min_eig/max_eig
  auto sl = io::ReadSurfaceFile(c.dir() + "/l.h5");
  ASSERT_TRUE(sl.ok());
  EXPECT_TRUE(sl->Has("min_eig") && sl->Has("max_eig"));
  // The file says which Hessian it holds, and with what it was computed, as local's does.
  auto sr = io::ReadSurfaceFile(c.dir() + "/r.h5");
  ASSERT_TRUE(sr.ok());
  ASSERT_EQ(sl->attributes.count("hessian_definition"), 1u);
  EXPECT_EQ(sr->attributes["hessian_definition"], sl->attributes.at("hessian_definition"));
  EXPECT_NE(sl->attributes.at("hessian_definition").find("over the first 32 samples"), std::string::npos);
  EXPECT_EQ(sr->attributes["version_libtorch"], sl->attributes.at("version_libtorch"));
  // The PCA directions (with their explained variance) and the projection of every checkpoint.
  auto dl = io::ReadDirectionFile(c.dir() + "/l.dirs.h5");
  auto dr = io::ReadDirectionFile(c.dir() + "/r.dirs.h5");
  ASSERT_TRUE(dl.ok() && dr.ok());
  ASSERT_TRUE(dr->pca.has_value());
  EXPECT_EQ(dr->pca->explained_variance_ratio, dl->pca->explained_variance_ratio);
  for (size_t i = 0; i < dl->x.size(); ++i) EXPECT_EQ(dr->x[i].bytes, dl->x[i].bytes) << i;
  auto pl = io::ReadProjectionFile(c.dir() + "/l.proj.h5");
  auto pr = io::ReadProjectionFile(c.dir() + "/r.proj.h5");
  ASSERT_TRUE(pl.ok()) << pl.status();
  ASSERT_TRUE(pr.ok()) << pr.status();
  EXPECT_EQ(pr->x, pl->x);
  EXPECT_EQ(pr->y, pl->y);
  EXPECT_EQ(pr->x.size(), 4u);  // checkpoints of epochs 0..3
  EXPECT_EQ(pr->extra.at("distance_from_plane"), pl->extra.at("distance_from_plane"));
  EXPECT_EQ(pr->extra.at("loss_true"), pl->extra.at("loss_true"));
}

// A CIFAR-10 data directory on the client's disk: submit packs the samples the job evaluates into an
// uploaded tensor file, so the workers never read the directory (it is gone before they start), and the
// surface is `local`'s on the directory.
TEST(ServiceTest, ADataDirectoryTravelsPackedWithTheJob) {
  testing::Cluster c(ServiceCluster());
  c.StartServer();
  const std::string cifar = c.dir() + "/cifar";
  std::filesystem::create_directories(cifar);
  std::mt19937 rng(11);
  auto write_batch = [&](const std::string& name, int records) {
    std::ofstream f(cifar + "/" + name, std::ios::binary);
    for (int r = 0; r < records; ++r) {
      f.put(static_cast<char>(rng() % 10));
      for (int j = 0; j < 3072; ++j) f.put(static_cast<char>(rng() % 256));
    }
  };
  for (int i = 1; i <= 5; ++i) write_batch("data_batch_" + std::to_string(i) + ".bin", 30);
  write_batch("test_batch.bin", 40);
  auto m = RunCommand({kCli, "export-arch", "--arch", "cnn", "--input", "3x32x32", "--seed", "5", "--out",
                       c.dir() + "/rgb.pt"});
  ASSERT_EQ(m.exit_code, 0) << m.output;
  const std::vector<std::string> spec{"--model", c.dir() + "/rgb.pt", "--data", "cifar10:" + cifar, "--split", "both",
                                      "--max-samples", "50", "--subset-seed", "3", "--x", "-1:1:3", "--y", "-1:1:3",
                                      "--tile-size", "3"};
  std::vector<std::string> local{kCli, "local", "--threads", "1", "--progress", "quiet", "--out", c.dir() + "/l.h5"};
  local.insert(local.end(), kPinnedPath.begin(), kPinnedPath.end());
  local.insert(local.end(), spec.begin(), spec.end());
  auto l = RunCommand(local);
  ASSERT_EQ(l.exit_code, 0) << l.output;

  std::vector<std::string> submit{"submit", "--server", c.Addr()};
  submit.insert(submit.end(), spec.begin(), spec.end());
  auto r = c.Cli(submit);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("landscape: packed cifar10:" + cifar + " (train 50 of 150, test 40 of 40 samples"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("workers must be able to read"), std::string::npos) << r.output;
  std::smatch job;
  ASSERT_TRUE(std::regex_search(r.output, job, std::regex("jobs/[0-9a-f]+")));
  std::filesystem::rename(cifar, cifar + "-gone");  // no worker could read it now
  c.StartWorker("w1");
  auto w = c.Cli({"watch", "--server", c.Addr(), "--progress", "quiet", job.str()});
  ASSERT_EQ(w.exit_code, 0) << w.output;
  auto g = c.Cli({"get", "--server", c.Addr(), "--out", c.dir() + "/r.h5", job.str()});
  ASSERT_EQ(g.exit_code, 0) << g.output;
  ExpectSameSurface(c.dir() + "/l.h5", c.dir() + "/r.h5");
}
}  // namespace
}  // namespace landscape
