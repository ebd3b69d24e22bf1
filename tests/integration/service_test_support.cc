#include "service_test_support.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "landscape/io/hdf5_files.h"

namespace landscape::service_test {

using testing::RunCommand;

const std::vector<std::string> kPinnedPath{"--first-layer", "off", "--data-parallel", "off", "--onednn", "off",
                                           "--no-optimize"};

const std::string& Workdir() {
  static const testing::ScopedTempDir tmp("landscape-service-test");  // removed when the test process exits
  static const std::string dir = [] {
    const std::string d = tmp.path();
    auto r = RunCommand({testing::CliBinary(), "train", "--arch", "cnn", "--data", "fashion-mnist", "--max-samples",
                         "512", "--epochs", "1", "--eval-samples", "-1", "--threads", "1", "--out", d + "/model"});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return d;
  }();
  return dir;
}

std::string Model() { return Workdir() + "/model/model_1.pt"; }

std::vector<std::string> SpecArgs(int samples, int tile_size) {
  std::vector<std::string> a{"--model", Model(), "--data", "fashion-mnist", "--max-samples", std::to_string(samples),
                             "--x", "-1:1:5", "--y", "-1:1:4"};
  if (tile_size > 0) a.insert(a.end(), {"--tile-size", std::to_string(tile_size)});
  return a;
}

std::string LocalReference(int samples) {
  static std::map<int, std::string> done;
  auto it = done.find(samples);
  if (it != done.end()) return it->second;
  const std::string out = Workdir() + "/local-" + std::to_string(samples) + ".h5";
  std::vector<std::string> argv{testing::CliBinary(), "local"};
  auto spec = SpecArgs(samples, 0);
  argv.insert(argv.end(), spec.begin(), spec.end());
  argv.insert(argv.end(), {"--threads", "1", "--progress", "quiet", "--out", out});
  argv.insert(argv.end(), kPinnedPath.begin(), kPinnedPath.end());
  auto r = RunCommand(argv);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  done[samples] = out;
  return out;
}

void ExpectSameSurface(const std::string& expected_path, const std::string& actual_path) {
  auto e = io::ReadSurfaceFile(expected_path);
  auto a = io::ReadSurfaceFile(actual_path);
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->x, e->x);
  EXPECT_EQ(a->y, e->y);
  ASSERT_EQ(a->metric_names, e->metric_names);
  EXPECT_EQ(a->DoneCount(), a->PointCount());
  for (const auto& m : e->metric_names) {
    const auto& ev = e->metrics.at(m);
    const auto& av = a->metrics.at(m);
    ASSERT_EQ(av.size(), ev.size()) << m;
    EXPECT_EQ(std::memcmp(av.data(), ev.data(), ev.size() * sizeof(double)), 0) << m << " differs";
    for (size_t k = 0; k < ev.size(); ++k) EXPECT_EQ(av[k], ev[k]) << m << "[" << k << "]";
  }
}

testing::ClusterOptions ServiceCluster(bool aof) {
  testing::ClusterOptions o;
  o.redis.aof = aof;
  o.worker_flags.insert(o.worker_flags.end(), kPinnedPath.begin(), kPinnedPath.end());
  return o;
}

}  // namespace landscape::service_test
