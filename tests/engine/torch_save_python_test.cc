// ReadTorchSave on files Debian's python3-torch writes in the test (torch_save_writer.py): a
// state dict of tensors of nine dtypes (a scalar, an empty one, a strided view sharing its base's
// storage, inf/nan), nested dicts, OrderedDicts, lists, tuples, ints, floats, strings and bytes,
// saved in the zip format and the legacy one. Every value read is compared exactly with what
// Python wrote beside it (expected.json). Then the same files cut short at many offsets, with a
// damaged zip directory, and every prefix of the pickle: each is an error saying what is wrong.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "process.h"
#include "torch_save_reader.h"

namespace landscape::engine {
namespace {

using core::StatusCode;
using nlohmann::json;

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void WriteBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::string Hex(const uint8_t* p, size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += kDigits[p[i] >> 4];
    s += kDigits[p[i] & 15];
  }
  return s;
}

at::ScalarType DType(const std::string& name) {
  static const std::map<std::string, at::ScalarType> kTypes = {
      {"float32", at::kFloat}, {"float64", at::kDouble}, {"float16", at::kHalf}, {"int64", at::kLong},
      {"int32", at::kInt},     {"int8", at::kChar},      {"uint8", at::kByte},  {"bool", at::kBool}};
  auto it = kTypes.find(name);
  return it == kTypes.end() ? at::kComplexDouble : it->second;  // an unknown name matches nothing
}

// Compares `got` with the typed tree `want` (torch_save_writer.py); `where` names the value.
void ExpectSame(const json& want, const PyRef& got, const std::string& where) {
  ASSERT_NE(got, nullptr) << where;
  const std::string t = want.at("t");
  using K = PyValue::Kind;
  if (t == "none") {
    EXPECT_EQ(got->kind, K::kNone) << where;
  } else if (t == "bool") {
    ASSERT_EQ(got->kind, K::kBool) << where;
    EXPECT_EQ(got->b, want.at("v").get<bool>()) << where;
  } else if (t == "int") {
    ASSERT_EQ(got->kind, K::kInt) << where;
    EXPECT_EQ(std::to_string(got->i), want.at("v").get<std::string>()) << where;
  } else if (t == "float") {
    ASSERT_EQ(got->kind, K::kFloat) << where;
    uint64_t bits = 0;
    std::memcpy(&bits, &got->f, 8);
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(bits));
    EXPECT_EQ(std::string(buf), want.at("bits").get<std::string>()) << where << " = " << got->f;
  } else if (t == "str" || t == "opaque") {
    ASSERT_EQ(got->kind, t == "str" ? K::kString : K::kOpaque) << where;
    EXPECT_EQ(got->s, want.at("v").get<std::string>()) << where;
  } else if (t == "list" || t == "tuple") {
    ASSERT_EQ(got->kind, t == "list" ? K::kList : K::kTuple) << where;
    ASSERT_EQ(got->items.size(), want.at("items").size()) << where;
    for (size_t i = 0; i < got->items.size(); ++i) {
      ExpectSame(want["items"][i], got->items[i], where + "[" + std::to_string(i) + "]");
    }
  } else if (t == "dict") {
    ASSERT_EQ(got->kind, K::kDict) << where;
    ASSERT_EQ(got->dict.size(), want.at("items").size()) << where;
    for (size_t i = 0; i < got->dict.size(); ++i) {  // insertion order kept
      const json& kv = want["items"][i];
      ExpectSame(kv[0], got->dict[i].first, where + ".key" + std::to_string(i));
      const std::string name = kv[0].value("v", std::to_string(i));
      ExpectSame(kv[1], got->dict[i].second, where + "." + name);
    }
  } else if (t == "tensor") {
    ASSERT_EQ(got->kind, K::kTensor) << where;
    const at::Tensor& x = got->tensor;
    EXPECT_EQ(x.scalar_type(), DType(want.at("dtype"))) << where << " " << x.scalar_type();
    EXPECT_EQ(x.sizes().vec(), want.at("shape").get<std::vector<int64_t>>()) << where;
    EXPECT_EQ(x.strides().vec(), want.at("stride").get<std::vector<int64_t>>()) << where;
    EXPECT_EQ(x.storage_offset(), want.at("offset").get<int64_t>()) << where;
    const at::Tensor c = x.contiguous();
    EXPECT_EQ(Hex(static_cast<const uint8_t*>(c.data_ptr()), c.nbytes()), want.at("hex")) << where;
  } else {
    ADD_FAILURE() << where << ": unknown expected type " << t;
  }
}

// Python writes the files once for the suite.
class TorchSavePython : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::ScopedTempDir("torch-save-python");
    auto r = testing::RunCommand({LANDSCAPE_TORCH_PYTHON, std::string(LANDSCAPE_SOURCE_DIR) +
                                                              "/tests/engine/torch_save_writer.py",
                                  dir_->path()});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::ifstream f(dir_->path() + "/expected.json");
    expected_ = new json(json::parse(f));
  }
  static void TearDownTestSuite() {
    delete expected_;
    delete dir_;
  }
  static std::string Path(const std::string& name) { return dir_->path() + "/" + name; }

  // `file` cut to its first `n` bytes, at a path of its own.
  static std::string Truncated(const std::string& file, size_t n) {
    std::vector<uint8_t> b = ReadBytes(Path(file));
    b.resize(std::min(n, b.size()));
    const std::string out = Path("cut_" + std::to_string(n) + "_" + file);
    WriteBytes(out, b);
    return out;
  }

  static testing::ScopedTempDir* dir_;
  static json* expected_;
};
testing::ScopedTempDir* TorchSavePython::dir_ = nullptr;
json* TorchSavePython::expected_ = nullptr;

TEST_F(TorchSavePython, TheZipFormatReadsBackExactly) {
  auto r = ReadTorchSave(Path("zip.pt"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectSame(*expected_, *r, "obj");
  EXPECT_FALSE(IsLegacyTorchSave(Path("zip.pt")));
}

TEST_F(TorchSavePython, TheLegacyFormatReadsBackExactly) {
  ASSERT_TRUE(IsLegacyTorchSave(Path("legacy.pt")));
  auto r = ReadTorchSave(Path("legacy.pt"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectSame(*expected_, *r, "obj");
}

TEST_F(TorchSavePython, AViewSharesItsBasesStorage) {
  for (const std::string file : {"zip.pt", "legacy.pt"}) {
    auto r = ReadTorchSave(Path(file));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    PyRef sd = (*r)->Get("state_dict");
    ASSERT_NE(sd, nullptr);
    const at::Tensor base = sd->Get("base")->tensor;
    const at::Tensor view = sd->Get("view")->tensor;
    EXPECT_TRUE(view.is_alias_of(base)) << file;
    EXPECT_TRUE(at::equal(view, base.slice(0, 1).slice(1, 1, 6, 2).t())) << file;
  }
}

TEST_F(TorchSavePython, ThePickleReadsBackFromItsRecords) {
  const std::vector<uint8_t> pickle = ReadBytes(Path("data.pkl"));
  ASSERT_GT(pickle.size(), 100u);
  int reads = 0;
  auto records = [&reads](const std::string& name) -> core::Result<std::vector<uint8_t>> {
    ++reads;
    const std::string path = dir_->path() + "/records/" + name.substr(name.find('/') + 1);
    if (name.rfind("data/", 0) != 0 || !std::filesystem::exists(path)) {
      return core::Status(StatusCode::kDataLoss, "no record " + name);
    }
    return ReadBytes(path);
  };
  auto r = Unpickle(pickle, records);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectSame(*expected_, *r, "obj");
  EXPECT_EQ(reads, 14);  // each storage once (base and view share one)
  // Every strict prefix ends before STOP: an error, never a crash.
  for (size_t n = 0; n < pickle.size(); ++n) {
    auto p = Unpickle(std::vector<uint8_t>(pickle.begin(), pickle.begin() + static_cast<long>(n)), records);
    ASSERT_FALSE(p.ok()) << "prefix of " << n << " bytes";
    EXPECT_EQ(p.status().code(), StatusCode::kDataLoss) << n << ": " << p.status().ToString();
    EXPECT_NE(p.status().message().find("corrupt torch.save data: "), std::string::npos) << p.status().ToString();
  }
}

TEST_F(TorchSavePython, TruncatedZipFilesAreErrors) {
  const size_t size = ReadBytes(Path("zip.pt")).size();
  for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{30}, size_t{100}, size_t{1000}, size / 2, size - 200,
                   size - 23, size - 22, size - 10, size - 1}) {
    const std::string path = Truncated("zip.pt", n);
    auto r = ReadTorchSave(path);
    ASSERT_FALSE(r.ok()) << n;
    const std::string& m = r.status().message();
    EXPECT_NE(m.find(path), std::string::npos) << m;  // names the file
    if (n < 2) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << m;
      EXPECT_NE(m.find("not a torch.save file"), std::string::npos) << m;
    } else {
      // The end of the central directory is gone (or cut): the archive is corrupt.
      EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << m;
      EXPECT_NE(m.find("corrupt torch.save data: not a zip archive (no end of central directory)"),
                std::string::npos)
          << n << ": " << m;
    }
  }
}

TEST_F(TorchSavePython, TruncatedLegacyFilesAreErrors) {
  const size_t size = ReadBytes(Path("legacy.pt")).size();
  for (size_t n : {size_t{0}, size_t{5}, size_t{14}, size_t{15}, size_t{17}, size_t{40}, size_t{300}, size / 2,
                   size - 100, size - 9, size - 1}) {
    const std::string path = Truncated("legacy.pt", n);
    auto r = ReadTorchSave(path);
    ASSERT_FALSE(r.ok()) << n;
    const std::string& m = r.status().message();
    EXPECT_NE(m.find(path), std::string::npos) << m;
    if (n < 15) {  // not even the magic number
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << m;
      EXPECT_NE(m.find("not a torch.save file"), std::string::npos) << m;
    } else {
      EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << m;
      const bool says = m.find("ends without STOP") != std::string::npos ||
                        m.find("is truncated") != std::string::npos || m.find("truncated ") != std::string::npos;
      EXPECT_TRUE(says) << n << ": " << m;
    }
  }
}

// The offset of the last occurrence of 4-byte signature `sig` in `b`.
size_t FindLast(const std::vector<uint8_t>& b, uint32_t sig) {
  for (size_t i = b.size() - 4; i-- > 0;) {
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) v |= static_cast<uint32_t>(b[i + static_cast<size_t>(k)]) << (8 * k);
    if (v == sig) return i;
  }
  return std::string::npos;
}

TEST_F(TorchSavePython, ADamagedZipDirectoryIsAnError) {
  const std::vector<uint8_t> good = ReadBytes(Path("zip.pt"));
  const size_t eocd = FindLast(good, 0x06054b50);
  const size_t entry = FindLast(good, 0x02014b50);  // the directory's last entry
  ASSERT_NE(eocd, std::string::npos);
  ASSERT_NE(entry, std::string::npos);
  struct Damage {
    std::string name;
    size_t offset;
    std::vector<uint8_t> bytes;
    std::string says;
  };
  const std::vector<Damage> damages = {
      {"entry signature", entry, {'X', 'X', 'X', 'X'}, "bad zip directory entry"},
      {"directory offset past the end", eocd + 16, {0xf0, 0xff, 0xff, 0x0f}, "the zip directory lies outside the file"},
      {"directory size past the end", eocd + 12, {0x00, 0x00, 0x10, 0x00}, "the zip directory lies outside the file"},
      {"entry's name length", entry + 28, {0xff, 0xff}, "bad zip directory entry"},
      {"entry's uncompressed size", entry + 24, {0x00, 0x00, 0x00, 0x40}, "declares 1073741824 bytes"},
  };
  for (const Damage& d : damages) {
    std::vector<uint8_t> b = good;
    std::copy(d.bytes.begin(), d.bytes.end(), b.begin() + static_cast<long>(d.offset));
    const std::string path = Path("damaged.pt");
    WriteBytes(path, b);
    auto r = ReadTorchSave(path);
    ASSERT_FALSE(r.ok()) << d.name;
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << d.name << ": " << r.status().ToString();
    EXPECT_NE(r.status().message().find(d.says), std::string::npos) << d.name << ": " << r.status().ToString();
  }
  // data.pkl renamed in the directory (its first entry): the archive reads, but is not a torch.save file.
  std::vector<uint8_t> b = good;
  const std::vector<uint8_t> first_sig = {0x50, 0x4b, 0x01, 0x02};
  const auto first_entry = std::search(b.begin(), b.end(), first_sig.begin(), first_sig.end());
  const std::string pkl = "/data.pkl";
  auto it = std::search(first_entry, b.end(), pkl.begin(), pkl.end());
  ASSERT_NE(it, b.end());
  *(it + 1) = 'x';  // "xata.pkl" (LibTorch's zip reader ignores case)
  WriteBytes(Path("renamed.pt"), b);
  auto r = ReadTorchSave(Path("renamed.pt"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("without data.pkl"), std::string::npos) << r.status().ToString();
}

TEST_F(TorchSavePython, ALegacyStorageOfAnotherSizeThanItsIdIsAnError) {
  // The first storage's element count (where Python says it is) one more, then one less.
  std::ifstream f(Path("legacy.json"));
  const json layout = json::parse(f);
  const size_t at = layout.at("first_storage_at");
  const int64_t numel = layout.at("first_storage_numel");
  const std::vector<uint8_t> good = ReadBytes(Path("legacy.pt"));
  ASSERT_LT(at + 8, good.size());
  for (int64_t wrong : {numel + 1, numel - 1}) {
    std::vector<uint8_t> b = good;
    for (int i = 0; i < 8; ++i) b[at + static_cast<size_t>(i)] = static_cast<uint8_t>(wrong >> (8 * i));
    WriteBytes(Path("legacy_count.pt"), b);
    auto r = ReadTorchSave(Path("legacy_count.pt"));
    ASSERT_FALSE(r.ok()) << wrong;
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().ToString();
    EXPECT_NE(r.status().message().find("has another size than its id says"), std::string::npos)
        << r.status().ToString();
  }
}

}  // namespace
}  // namespace landscape::engine
