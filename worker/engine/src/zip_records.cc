#include "zip_records.h"

#include <algorithm>
#include <fstream>
#include <vector>

namespace landscape::engine {

using core::Status;
using core::StatusCode;

namespace {

Status Corrupt(const std::string& what) { return Status(StatusCode::kDataLoss, "corrupt torch.save data: " + what); }
Status OverLimit(const std::string& limit, uint64_t value, const std::string& what) {
  return Status(StatusCode::kResourceExhausted,
                "torch.save data over the limit " + limit + " (" + std::to_string(value) + "): " + what);
}

uint64_t LE(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

}  // namespace

Status CheckZipRecords(const std::string& path, uint64_t max_record_bytes) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  const auto file_size = static_cast<uint64_t>(std::max<std::streamoff>(0, f.tellg()));
  auto read_at = [&f, file_size](uint64_t pos, uint64_t n, std::vector<uint8_t>* out) {
    if (pos > file_size || n > file_size - pos) return false;
    out->resize(n);
    f.seekg(static_cast<std::streamoff>(pos));
    f.read(reinterpret_cast<char*>(out->data()), static_cast<std::streamsize>(n));
    return f.gcount() == static_cast<std::streamsize>(n);
  };
  const uint64_t tail_size = std::min<uint64_t>(file_size, 22 + 65535);
  std::vector<uint8_t> tail;
  if (!read_at(file_size - tail_size, tail_size, &tail)) return Corrupt("cannot read the zip archive's end");
  size_t e = tail.size() >= 22 ? tail.size() - 22 + 1 : 0;
  while (e > 0 && LE(tail.data() + e - 1, 4) != 0x06054b50) --e;
  if (e == 0) return Corrupt("not a zip archive (no end of central directory)");
  const uint8_t* eocd = tail.data() + e - 1;
  const uint64_t eocd_pos = file_size - tail_size + (e - 1);
  uint64_t entries = LE(eocd + 10, 2), cd_size = LE(eocd + 12, 4), cd_offset = LE(eocd + 16, 4);
  if (entries == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) {  // zip64
    std::vector<uint8_t> loc, z64;
    if (eocd_pos < 20 || !read_at(eocd_pos - 20, 20, &loc) || LE(loc.data(), 4) != 0x07064b50 ||
        !read_at(LE(loc.data() + 8, 8), 56, &z64) || LE(z64.data(), 4) != 0x06064b50) {
      return Corrupt("bad zip64 end of central directory");
    }
    entries = LE(z64.data() + 32, 8);
    cd_size = LE(z64.data() + 40, 8);
    cd_offset = LE(z64.data() + 48, 8);
  }
  if (cd_size > (uint64_t{64} << 20)) return OverLimit("max_zip_directory_bytes", uint64_t{64} << 20, "zip directory");
  std::vector<uint8_t> cd;
  if (!read_at(cd_offset, cd_size, &cd)) return Corrupt("the zip directory lies outside the file");
  size_t pos = 0;
  for (uint64_t i = 0; i < entries; ++i) {
    if (pos + 46 > cd.size() || LE(cd.data() + pos, 4) != 0x02014b50) return Corrupt("bad zip directory entry");
    const uint8_t* h = cd.data() + pos;
    const uint64_t method = LE(h + 10, 2), name_len = LE(h + 28, 2), extra_len = LE(h + 30, 2), comment = LE(h + 32, 2);
    uint64_t comp = LE(h + 20, 4), uncomp = LE(h + 24, 4);
    if (pos + 46 + name_len + extra_len + comment > cd.size()) return Corrupt("bad zip directory entry");
    const std::string name(reinterpret_cast<const char*>(h + 46), name_len);
    for (size_t x = 0; x + 4 <= extra_len;) {  // the zip64 sizes, in order, of the fields that are 0xFFFFFFFF
      const uint8_t* ex = h + 46 + name_len + x;
      const uint64_t id = LE(ex, 2), len = LE(ex + 2, 2);
      if (x + 4 + len > extra_len) break;
      if (id == 0x0001) {
        size_t k = 4;
        if (uncomp == 0xFFFFFFFF && k + 8 <= 4 + len) uncomp = LE(ex + k, 8), k += 8;
        if (comp == 0xFFFFFFFF && k + 8 <= 4 + len) comp = LE(ex + k, 8);
      }
      x += 4 + len;
    }
    if (uncomp > max_record_bytes) {
      return OverLimit("max_storage_bytes", max_record_bytes, "zip record " + name + " declares " +
                                                                          std::to_string(uncomp) + " bytes");
    }
    if ((method == 0 && uncomp > file_size) || (method != 0 && uncomp / 1100 > comp)) {
      return Corrupt("zip record " + name + " declares " + std::to_string(uncomp) + " bytes, more than its " +
                     std::to_string(comp) + " stored bytes can hold");
    }
    pos += 46 + name_len + extra_len + comment;
  }
  return Status::Ok();
}


}  // namespace landscape::engine
