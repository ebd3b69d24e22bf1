// IDX files (raw or gzip) through IdxReader: the first input byte picks the rank (images 3,
// labels 1), the rest is the file. Caps are small so that a header declaring gigabytes is refused
// by the cap, not by the fuzzer's memory limit.
#include <algorithm>

#include "fuzz_util.h"
#include "idx_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace landscape;
  static fuzz::ScratchFile file(".idx");
  if (size < 1) return 0;
  const int rank = (data[0] & 1) ? 3 : 1;
  engine::RawDataLimits limits;
  limits.max_decompressed_bytes = uint64_t{64} << 20;
  limits.max_item_bytes = uint64_t{1} << 20;
  auto r = engine::IdxReader::Open(file.Write(data + 1, size - 1), rank, limits);
  if (!r.ok()) {
    fuzz::ExpectInputError(r.status());
    return 0;
  }
  const auto& dims = (*r)->dims();
  if (static_cast<int>(dims.size()) != rank || (*r)->item_bytes() < 1) std::abort();
  const int64_t count = std::min<int64_t>(dims[0], (data[0] >> 1) + 1);
  auto items = (*r)->ReadItems(count);
  if (!items.ok()) {
    fuzz::ExpectInputError(items.status());
    return 0;
  }
  if (static_cast<int64_t>(items->size()) != count * (*r)->item_bytes()) std::abort();
  return 0;
}
