// The caps on what untrusted files may make a worker allocate: a gzip bomb, an IDX header
// declaring terabytes, a pickle storage declaring 10^12 elements (zip and legacy formats),
// containers nested without end or holding themselves. Each is refused with the cap's name
// (or as corrupt) before the allocation it would cause.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "datasets.h"
#include "idx_reader.h"
#include "process.h"
#include "torch_save_reader.h"

namespace landscape::engine {
namespace {

void WriteBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  std::fclose(f);
}

void WriteGzip(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb9");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(f);
}

void Put32(std::vector<uint8_t>* out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out->push_back(static_cast<uint8_t>(v >> s));
}

void ExpectLimit(const core::Status& s, core::StatusCode code, const std::string& limit) {
  EXPECT_EQ(s.code(), code) << s.ToString();
  EXPECT_NE(s.message().find(limit), std::string::npos) << s.ToString();
}

TEST(InputCaps, AGzipBombStopsAtTheDecompressionCap) {
  const testing::ScopedTempDir tmp("caps");
  const std::string path = tmp.path() + "/test_batch.bin";
  WriteGzip(path, std::vector<uint8_t>(size_t{8} << 20, 0));  // 8 MiB of zeros: ~8 KB of gzip
  RawDataLimits limits;
  limits.max_decompressed_bytes = 1 << 20;
  auto r = ReadMaybeGzip(path, limits);
  ASSERT_FALSE(r.ok());
  ExpectLimit(r.status(), core::StatusCode::kResourceExhausted, "max_decompressed_bytes");
  // At the cap exactly, the file is read.
  limits.max_decompressed_bytes = size_t{8} << 20;
  auto whole = ReadMaybeGzip(path, limits);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(whole->size(), size_t{8} << 20);
}

TEST(InputCaps, AnIdxHeaderDeclaringTerabytesIsRefusedBeforeReading) {
  const testing::ScopedTempDir tmp("caps");
  std::vector<uint8_t> img, lab;
  Put32(&img, 0x00000803);
  Put32(&img, 0xFFFFFFFFu);  // 4.3 billion images of 28 x 28: 3.4 TB in a file of a few bytes
  Put32(&img, 28);
  Put32(&img, 28);
  Put32(&lab, 0x00000801);
  Put32(&lab, 0xFFFFFFFFu);
  WriteGzip(tmp.path() + "/train-images-idx3-ubyte.gz", img);
  WriteGzip(tmp.path() + "/train-labels-idx1-ubyte.gz", lab);
  auto r = IdxReader::Open(tmp.path() + "/train-images-idx3-ubyte.gz", 3);
  ASSERT_FALSE(r.ok());
  ExpectLimit(r.status(), core::StatusCode::kResourceExhausted, "max_decompressed_bytes");
  // Through the data set loader too, with the field named.
  core::DataSpec spec;
  spec.source = "idx:" + tmp.path();
  spec.max_samples = 10;
  auto d = LoadDatasetSplit(spec, true, "");
  ASSERT_FALSE(d.ok());
  ExpectLimit(d.status(), core::StatusCode::kResourceExhausted, "max_decompressed_bytes");
}

TEST(InputCaps, HugeIdxDimensionsDoNotOverflow) {
  const testing::ScopedTempDir tmp("caps");
  std::vector<uint8_t> img;
  Put32(&img, 0x00000803);
  Put32(&img, 2);
  Put32(&img, 0xFFFFFFFFu);  // rows * cols overflows 64 bits
  Put32(&img, 0xFFFFFFFFu);
  WriteBytes(tmp.path() + "/images", img);
  auto r = IdxReader::Open(tmp.path() + "/images", 3);
  ASSERT_FALSE(r.ok());
  ExpectLimit(r.status(), core::StatusCode::kResourceExhausted, "max_item_bytes");
}

TEST(InputCaps, CifarLabelsOutsideTenClassesAreRefused) {
  std::vector<uint8_t> batch(2 * kCifarRecordBytes, 0);
  batch[kCifarRecordBytes] = 10;
  const core::Status s = CheckCifarBatch(batch, "b.bin");
  EXPECT_EQ(s.code(), core::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("record 1 has label 10"), std::string::npos) << s.ToString();
}

// A protocol-2 pickle of the persistent id ('storage', torch.FloatStorage, '0', 'cpu', numel),
// loaded with Q (BINPERSID), then STOP.
std::vector<uint8_t> StoragePickle(uint64_t numel) {
  std::string p = "\x80\x02(";
  p += std::string("X\x07\x00\x00\x00storage", 12);
  p += "ctorch\nFloatStorage\n";
  p += std::string("X\x01\x00\x00\x00" "0", 6);
  p += std::string("X\x03\x00\x00\x00" "cpu", 8);
  p += "\x8a\x08";
  for (int i = 0; i < 8; ++i) p += static_cast<char>((numel >> (8 * i)) & 0xff);
  p += "tQ.";
  return {p.begin(), p.end()};
}

TEST(InputCaps, APickleStorageDeclaringATrillionElementsIsRefusedBeforeAllocation) {
  int calls = 0;
  auto records = [&calls](const std::string&) -> core::Result<std::vector<uint8_t>> {
    ++calls;
    return std::vector<uint8_t>(256, 0);
  };
  for (uint64_t numel : {uint64_t{1000000000000}, uint64_t{1} << 62}) {  // 4 TB; 2^64 bytes (overflows)
    auto r = Unpickle(StoragePickle(numel), records);
    ASSERT_FALSE(r.ok()) << numel;
    ExpectLimit(r.status(), core::StatusCode::kResourceExhausted, "max_storage_bytes");
  }
  EXPECT_EQ(calls, 0);  // refused before its record was even read
  // Under the cap, the record's real size decides: 1,000 floats are not in 256 bytes.
  auto r = Unpickle(StoragePickle(1000), records);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), core::StatusCode::kDataLoss) << r.status().ToString();
  auto ok = Unpickle(StoragePickle(64), records);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)->tensor.numel(), 64);
}

TEST(InputCaps, ALegacyTorchSaveDeclaringMoreThanTheFileHoldsIsRefused) {
  const testing::ScopedTempDir tmp("caps");
  for (uint64_t numel : {uint64_t{1000000000000}, uint64_t{100000000}}) {  // over the cap; 400 MB in a tiny file
    std::vector<uint8_t> f = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
    f.insert(f.end(), {0x80, 0x02, 'M', 0xe9, 0x03, '.'});  // protocol 1001
    f.insert(f.end(), {0x80, 0x02, '}', '.'});              // sys_info {}
    const std::vector<uint8_t> object = StoragePickle(numel);
    f.insert(f.end(), object.begin(), object.end());
    const std::string path = tmp.path() + "/legacy.pt";
    WriteBytes(path, f);
    auto r = ReadTorchSave(path);
    ASSERT_FALSE(r.ok());
    if (numel > (uint64_t{16} << 30) / 4) {
      ExpectLimit(r.status(), core::StatusCode::kResourceExhausted, "max_storage_bytes");
    } else {
      EXPECT_EQ(r.status().code(), core::StatusCode::kDataLoss) << r.status().ToString();
      EXPECT_NE(r.status().message().find("more bytes than the file has"), std::string::npos) << r.status().ToString();
    }
  }
}

// A zip archive of one stored record `name` whose directory declares `declared` bytes (it holds 4).
std::vector<uint8_t> ZipDeclaring(const std::string& name, uint32_t declared) {
  std::vector<uint8_t> z;
  auto le = [&z](uint64_t v, int n) {
    for (int i = 0; i < n; ++i) z.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  le(0x04034b50, 4), le(20, 2), le(0, 2), le(0, 2), le(0, 4), le(0, 4), le(4, 4), le(declared, 4);
  le(name.size(), 2), le(0, 2);
  z.insert(z.end(), name.begin(), name.end());
  z.insert(z.end(), {'a', 'b', 'c', 'd'});
  const size_t cd = z.size();
  le(0x02014b50, 4), le(20, 2), le(20, 2), le(0, 2), le(0, 2), le(0, 4), le(0, 4), le(4, 4), le(declared, 4);
  le(name.size(), 2), le(0, 2), le(0, 2), le(0, 2), le(0, 2), le(0, 4), le(0, 4);
  z.insert(z.end(), name.begin(), name.end());
  const size_t cd_size = z.size() - cd;
  le(0x06054b50, 4), le(0, 2), le(0, 2), le(1, 2), le(1, 2), le(cd_size, 4), le(cd, 4), le(0, 2);
  return z;
}

TEST(InputCaps, AZipRecordDeclaringMoreThanTheFileHoldsIsRefusedBeforeLibTorchAllocatesIt) {
  const testing::ScopedTempDir tmp("caps");
  const std::string path = tmp.path() + "/model.pt";
  WriteBytes(path, ZipDeclaring("archive/data.pkl", 0xFFFFFFF0u));  // 4 GiB declared in ~150 bytes
  auto r = ReadTorchSave(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), core::StatusCode::kDataLoss) << r.status().ToString();
  EXPECT_NE(r.status().message().find("declares 4294967280 bytes"), std::string::npos) << r.status().ToString();
  TorchSaveLimits small;
  small.max_storage_bytes = 1 << 20;
  auto capped = ReadTorchSave(path, small);
  ASSERT_FALSE(capped.ok());
  ExpectLimit(capped.status(), core::StatusCode::kResourceExhausted, "max_storage_bytes");
}

TEST(InputCaps, DeepAndSelfContainingContainersAreRefused) {
  auto no_records = [](const std::string&) -> core::Result<std::vector<uint8_t>> { return std::vector<uint8_t>(); };
  // 200,000 lists, each appended to the one below: a chain 200,000 deep.
  std::vector<uint8_t> deep = {0x80, 0x02};
  deep.insert(deep.end(), 200000, ']');
  deep.insert(deep.end(), 199999, 'a');
  deep.push_back('.');
  auto r = Unpickle(deep, no_records);
  ASSERT_FALSE(r.ok());
  ExpectLimit(r.status(), core::StatusCode::kResourceExhausted, "max_depth");
  // A list appended to itself.
  const std::vector<uint8_t> cycle = {0x80, 0x02, ']', '2', 'a', '.'};
  auto c = Unpickle(cycle, no_records);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), core::StatusCode::kDataLoss) << c.status().ToString();
  EXPECT_NE(c.status().message().find("holds itself"), std::string::npos) << c.status().ToString();
  // Too many values.
  TorchSaveLimits limits;
  limits.max_values = 1000;
  std::vector<uint8_t> many = {0x80, 0x02, ']', '('};
  many.insert(many.end(), 2000, 'N');
  many.push_back('e');
  many.push_back('.');
  auto m = Unpickle(many, no_records, limits);
  ASSERT_FALSE(m.ok());
  ExpectLimit(m.status(), core::StatusCode::kResourceExhausted, "max_values");
}

}  // namespace
}  // namespace landscape::engine
