// The byte-level readers of the raw data set formats (no Torch): gzip with a byte budget,
// IDX headers and items, CIFAR-10 binary batches. Their input is untrusted (tenants upload
// data sets): every size a file declares is checked against a cap before it is allocated,
// and breaking a cap is kResourceExhausted naming it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "landscape/core/status.h"

namespace landscape::engine {

struct RawDataLimits {
  /// Bytes one data file may decompress to (and an IDX header may declare): Fashion-MNIST's
  /// training images are 47 MB, CIFAR-10's batches 31 MB each.
  uint64_t max_decompressed_bytes = uint64_t{2} << 30;  // 2 GiB
  /// Bytes of one IDX item (an image of rows x cols): 16 MiB.
  uint64_t max_item_bytes = uint64_t{1} << 24;
};

/// One IDX file of uint8 data (magic 0x000008<rank>), read through zlib (gunzipped when it is gzip).
class IdxReader {
 public:
  /// Opens `path` and reads its header. `rank` 3 for images [N, rows, cols], 1 for labels [N].
  /// Errors: kNotFound, kInvalidArgument (bad magic, zero dims), kResourceExhausted (the declared
  /// size over max_decompressed_bytes or an item over max_item_bytes), kDataLoss (truncated header).
  static core::Result<std::unique_ptr<IdxReader>> Open(const std::string& path, int rank,
                                                       const RawDataLimits& limits = {});
  ~IdxReader();
  IdxReader(const IdxReader&) = delete;
  IdxReader& operator=(const IdxReader&) = delete;

  /// The dimensions the header declares; dims()[0] is the item count.
  const std::vector<int64_t>& dims() const { return dims_; }
  /// Bytes of one item (the product of dims()[1..]); never 0.
  int64_t item_bytes() const { return item_bytes_; }
  /// Reads the first `count` items (count <= dims()[0]): count * item_bytes() bytes, the header's
  /// declared size bounding the work. kInvalidArgument ("truncated") when the file ends before them.
  core::Result<std::vector<uint8_t>> ReadItems(int64_t count);

 private:
  IdxReader() = default;
  struct Gz;
  std::unique_ptr<Gz> gz_;
  std::string path_;
  std::vector<int64_t> dims_;
  int64_t item_bytes_ = 1;
};

/// Reads a whole file, gunzipping it if it is gzip-compressed, stopping with kResourceExhausted
/// (max_decompressed_bytes) once it would exceed the cap: a small gzip bomb costs only the cap.
core::Result<std::vector<uint8_t>> ReadMaybeGzip(const std::string& path, const RawDataLimits& limits = {});

/// Bytes of one CIFAR-10 binary record: a label byte and 3 x 32 x 32 pixel bytes.
constexpr int64_t kCifarRecordBytes = 3073;

/// Checks a CIFAR-10 batch's bytes (`path` for messages): a whole number of records whose labels
/// are 0..9. kInvalidArgument otherwise.
core::Status CheckCifarBatch(const std::vector<uint8_t>& bytes, const std::string& path);

}  // namespace landscape::engine
