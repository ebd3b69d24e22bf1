#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include <cmath>
#include <filesystem>

#include "landscape/io/hdf5_files.h"
#include "landscape/io/summary.h"

namespace landscape::io {
namespace {

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("landscape_test_" + std::to_string(getpid()) + "_" + name)).string();
}

TEST(Hdf5Files, SurfaceRoundTripNonSquare) {
  core::GridSpec g;
  g.x = {-1, 1, 5};
  g.y = core::AxisSpec{0, 1, 3};
  Surface s = NewSurface(g, {"train_loss", "train_acc", "min_eig"}, "dirs.h5");
  EXPECT_EQ(s.metrics["train_loss"][0], -1.0);  // the reference's sentinel
  EXPECT_EQ(s.metrics["min_eig"][0], 1.0);
  for (size_t k = 0; k < s.PointCount(); k += 2) {
    s.metrics["train_loss"][k] = 0.1 * double(k);
    s.done[k] = 1;
  }
  s.attributes["spec"] = "{}";
  const std::string path = TempPath("surface.h5");
  ASSERT_TRUE(WriteSurfaceFile(path, s).ok());
  auto r = ReadSurfaceFile(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->x, s.x);
  EXPECT_EQ(r->y, s.y);
  EXPECT_EQ(r->metrics["train_loss"], s.metrics["train_loss"]);
  EXPECT_EQ(r->done, s.done);
  EXPECT_EQ(r->dir_file, "dirs.h5");
  EXPECT_EQ(r->attributes["spec"], "{}");
  EXPECT_DOUBLE_EQ(r->At("train_loss", 4, 0), 0.4);  // k = 4: ix 4, iy 0
  EXPECT_DOUBLE_EQ(r->At("train_loss", 1, 1), 0.6);  // k = 6 = iy 1 * nx 5 + ix 1
  std::filesystem::remove(path);
}

// The in-memory image is the file WriteSurfaceFile writes: read back from its bytes, the same surface.
TEST(Hdf5Files, SurfaceFileImageReadsBackAsTheSurface) {
  core::JobSpec spec;
  spec.grid.x = {-1, 1, 4};
  spec.grid.y = core::AxisSpec{0, 1, 3};
  spec.labels["commit"] = "abc";
  Surface s = NewJobSurface(spec, "jobs/j1", "artifact:00ff");
  ASSERT_FALSE(s.metric_names.empty());
  const std::string m = s.metric_names[0];
  s.metrics[m][5] = 0.25;
  s.done[5] = 1;
  FinishJobSurface({{"model_sha256", "1234"}}, &s);
  EXPECT_EQ(s.attributes["partial"], "true");  // 11 of 12 points unfinished
  auto image = SurfaceFileImage(s);
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_EQ(image->compare(0, 8, "\x89HDF\r\n\x1a\n"), 0);
  const std::string path = TempPath("image.h5");
  std::ofstream(path, std::ios::binary) << *image;
  auto r = ReadSurfaceFile(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->x, s.x);
  EXPECT_EQ(r->y, s.y);
  EXPECT_EQ(r->metric_names, s.metric_names);
  EXPECT_EQ(r->metrics[m], s.metrics[m]);
  EXPECT_EQ(r->done, s.done);
  EXPECT_EQ(r->dir_file, "artifact:00ff");
  EXPECT_EQ(r->attributes["job"], "jobs/j1");
  EXPECT_EQ(r->attributes["label_commit"], "abc");
  EXPECT_EQ(r->attributes["model_sha256"], "1234");
  EXPECT_EQ(r->attributes["partial"], "true");
  EXPECT_EQ(r->attributes["spec"], core::SpecToJson(spec));
  std::filesystem::remove(path);
}

TEST(Hdf5Files, DirectionRoundTripWithScalarsAndIntegers) {
  DirectionSet d;
  d.x.push_back(HostArray::FromFloats({2, 3}, {1, 2, 3, 4, 5, 6}));
  d.x.push_back(HostArray::FromFloats({}, {7}));  // a 0-D entry
  HostArray counter = HostArray::Zeros({}, DType::kInt64);
  counter.data<int64_t>()[0] = -3;
  d.x.push_back(counter);
  d.y = d.x;
  d.pca = PcaInfo{{0.6, 0.3}, {10, 5}, {2, 1}};
  d.attributes["kind"] = "random";
  const std::string path = TempPath("dirs.h5");
  ASSERT_TRUE(WriteDirectionFile(path, d).ok());
  auto r = ReadDirectionFile(path);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->x.size(), 3u);
  EXPECT_EQ(r->x[0].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(r->x[0].dtype, DType::kFloat32);
  EXPECT_EQ(r->x[0].At(5), 6.0);
  EXPECT_TRUE(r->x[1].shape.empty());
  EXPECT_EQ(r->x[2].dtype, DType::kInt64);
  EXPECT_EQ(r->x[2].At(0), -3.0);
  ASSERT_TRUE(r->pca.has_value());
  EXPECT_EQ(r->pca->explained_variance_ratio, (std::vector<double>{0.6, 0.3}));
  EXPECT_EQ(r->attributes["kind"], "random");
  std::filesystem::remove(path);
}

TEST(Hdf5Files, ClearErrors) {
  auto missing = ReadSurfaceFile("/nonexistent/surface.h5");
  EXPECT_EQ(missing.status().code(), core::StatusCode::kNotFound);
  const std::string junk = TempPath("junk.h5");
  ASSERT_TRUE(WriteTextFile(junk, "not hdf5").ok());
  auto r = ReadDirectionFile(junk);
  EXPECT_EQ(r.status().code(), core::StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("not an HDF5 file"), std::string::npos);
  std::filesystem::remove(junk);
}

TEST(Summary, CsvAndJson) {
  core::GridSpec g;
  g.x = {-1, 1, 3};
  Surface s = NewSurface(g, {"train_loss"}, "d.h5");
  s.metrics["train_loss"] = {2.0, 0.5, NAN};
  s.done = {1, 1, 1};
  const std::string csv = TempPath("s.csv");
  ASSERT_TRUE(WriteSurfaceCsv(csv, s).ok());
  std::ifstream in(csv);
  std::string header, row0;
  std::getline(in, header);
  std::getline(in, row0);
  EXPECT_EQ(header, "ix,x,done,train_loss");
  EXPECT_EQ(row0, "0,-1,1,2");
  const std::string json = SurfaceSummaryJson(s, {});
  EXPECT_NE(json.find("\"nan_count\": 1"), std::string::npos);
  EXPECT_NE(json.find("\"min\": 0.5"), std::string::npos);
  std::filesystem::remove(csv);
}

}  // namespace
}  // namespace landscape::io
