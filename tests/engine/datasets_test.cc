// The IDX reader against bytes written here: gzip and plain files, the first N
// samples read without decompressing the rest, seeded subsets, and truncated files.
#include <gtest/gtest.h>
#include <zlib.h>

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "datasets.h"
#include "landscape/core/rng.h"
#include "process.h"

namespace landscape::engine {
namespace {

constexpr int kRows = 2, kCols = 3, kPixels = kRows * kCols;

uint8_t Pixel(int image, int j) { return static_cast<uint8_t>((image * 7 + j * 13) % 256); }
uint8_t Label(int image) { return static_cast<uint8_t>(image % 10); }

void Put32(std::vector<uint8_t>* out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out->push_back(static_cast<uint8_t>(v >> s));
}

void WriteFile(const std::string& path, const std::vector<uint8_t>& bytes, bool gzip) {
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
    gzclose(f);
  } else {
    FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  }
}

// train-{images,labels} whose headers say `declared` images, holding `stored` of them.
// Removed with its files when the returned object goes.
testing::ScopedTempDir WriteIdx(int declared, int stored, bool gzip) {
  testing::ScopedTempDir tmp("landscape-idx");
  const std::string& dir = tmp.path();
  std::vector<uint8_t> img, lab;
  Put32(&img, 0x00000803);
  Put32(&img, declared);
  Put32(&img, kRows);
  Put32(&img, kCols);
  Put32(&lab, 0x00000801);
  Put32(&lab, declared);
  for (int i = 0; i < stored; ++i) {
    for (int j = 0; j < kPixels; ++j) img.push_back(Pixel(i, j));
    lab.push_back(Label(i));
  }
  const std::string ext = gzip ? ".gz" : "";
  WriteFile(dir + "/train-images-idx3-ubyte" + ext, img, gzip);
  WriteFile(dir + "/train-labels-idx1-ubyte" + ext, lab, gzip);
  return tmp;
}

core::DataSpec Spec(const std::string& dir, int64_t max_samples) {
  core::DataSpec s;
  s.source = "idx:" + dir;
  s.max_samples = max_samples;
  return s;
}

// Image i of `d` holds the pixels of stored image k, scaled to [0, 1] (IDX's "auto").
void ExpectImage(const Dataset& d, int64_t i, int k) {
  const at::Tensor img = d.images[i].reshape({-1});
  for (int j = 0; j < kPixels; ++j) EXPECT_FLOAT_EQ(img[j].item<float>(), Pixel(k, j) / 255.0f) << i << "," << j;
  EXPECT_EQ(d.labels[i].item<int64_t>(), Label(k));
}

TEST(IdxReader, ReadsTheFirstSamplesOfGzipAndPlainFiles) {
  for (bool gzip : {true, false}) {
    const testing::ScopedTempDir tmp = WriteIdx(50, 50, gzip);
    const std::string& dir = tmp.path();
    auto d = LoadDatasetSplit(Spec(dir, 7), true, "");
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(d->size(), 7);
    EXPECT_EQ(d->total, 50);
    EXPECT_EQ(d->images.sizes(), (std::vector<int64_t>{7, 1, kRows, kCols}));
    for (int i = 0; i < 7; ++i) ExpectImage(*d, i, i);
    auto all = LoadDatasetSplit(Spec(dir, 0), true, "");
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    EXPECT_EQ(all->size(), 50);
    ExpectImage(*all, 49, 49);
  }
}

TEST(IdxReader, SeededSubsetsReadThroughTheirLastIndex) {
  const testing::ScopedTempDir tmp = WriteIdx(40, 40, true);
  const std::string& dir = tmp.path();
  core::DataSpec spec = Spec(dir, 5);
  spec.subset_seed = 11;
  auto d = LoadDatasetSplit(spec, true, "");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  const std::vector<int64_t> idx = core::SampleIndices(40, 5, 11);
  ASSERT_EQ(d->size(), 5);
  for (int i = 0; i < 5; ++i) ExpectImage(*d, i, static_cast<int>(idx[static_cast<size_t>(i)]));
}

TEST(IdxReader, ATruncatedFileServesTheSamplesItHoldsAndRefusesMore) {
  // The header says 30 images; the files hold 12.
  const testing::ScopedTempDir tmp = WriteIdx(30, 12, true);
  const std::string& dir = tmp.path();
  auto first = LoadDatasetSplit(Spec(dir, 12), true, "");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ExpectImage(*first, 11, 11);
  for (int64_t n : {13, 0}) {
    auto more = LoadDatasetSplit(Spec(dir, n), true, "");
    ASSERT_FALSE(more.ok()) << n;
    EXPECT_EQ(more.status().code(), core::StatusCode::kInvalidArgument);
    EXPECT_NE(more.status().message().find("truncated"), std::string::npos) << more.status().message();
  }
}

TEST(IdxReader, RefusesAFileThatIsNotIdx) {
  const testing::ScopedTempDir tmp = WriteIdx(4, 4, false);
  const std::string& dir = tmp.path();
  WriteFile(dir + "/train-images-idx3-ubyte", std::vector<uint8_t>(64, 0), false);
  auto d = LoadDatasetSplit(Spec(dir, 2), true, "");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("bad magic number"), std::string::npos) << d.status().message();
}

TEST(IdxReader, RefusesAnImplausibleImageSizeInsteadOfAllocatingIt) {
  const testing::ScopedTempDir tmp = WriteIdx(4, 4, true);
  const std::string& dir = tmp.path();
  std::vector<uint8_t> img;
  Put32(&img, 0x00000803);
  Put32(&img, 4);
  Put32(&img, 0x40000000);  // rows
  Put32(&img, 0x40000000);  // cols
  WriteFile(dir + "/train-images-idx3-ubyte.gz", img, true);
  auto d = LoadDatasetSplit(Spec(dir, 2), true, "");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("implausible image size"), std::string::npos) << d.status().message();
}

}  // namespace
}  // namespace landscape::engine
