#include "idx_reader.h"

#include <zlib.h>

#include <algorithm>

namespace landscape::engine {

using core::Result;
using core::Status;
using core::StatusCode;

namespace {

Status DataError(StatusCode code, const std::string& msg) { return Status(code, msg, "data"); }

Status OverLimit(const std::string& path, const std::string& limit, uint64_t value, const std::string& what) {
  return DataError(StatusCode::kResourceExhausted,
                   path + ": over the limit " + limit + " (" + std::to_string(value) + " bytes): " + what);
}

uint32_t BigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// What is reserved up front at most; vectors grow past it only as real bytes arrive.
constexpr size_t kMaxReserve = size_t{64} << 20;

}  // namespace

// A file read through zlib: gunzipped if it is gzip-compressed, as is otherwise.
struct IdxReader::Gz {
  gzFile f = nullptr;
  ~Gz() {
    if (f) gzclose(f);
  }
};

namespace {

// Appends up to `limit` more bytes of `f` to `out` (fewer at the end of the file).
Status ReadUpTo(gzFile f, const std::string& path, uint64_t limit, std::vector<uint8_t>* out) {
  std::vector<uint8_t> buf(size_t{1} << 20);
  while (limit > 0) {
    const int n = gzread(f, buf.data(), static_cast<unsigned>(std::min<uint64_t>(limit, buf.size())));
    if (n < 0) {
      int err = 0;
      return DataError(StatusCode::kDataLoss, path + ": corrupt gzip data: " + gzerror(f, &err));
    }
    if (n == 0) break;
    out->insert(out->end(), buf.begin(), buf.begin() + n);
    limit -= static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

}  // namespace

IdxReader::~IdxReader() = default;

Result<std::unique_ptr<IdxReader>> IdxReader::Open(const std::string& path, int rank, const RawDataLimits& limits) {
  std::unique_ptr<IdxReader> r(new IdxReader());
  r->path_ = path;
  r->gz_ = std::make_unique<Gz>();
  r->gz_->f = gzopen(path.c_str(), "rb");
  if (!r->gz_->f) return DataError(StatusCode::kNotFound, path + ": cannot open");
  const size_t header = 4 + 4 * static_cast<size_t>(rank);
  std::vector<uint8_t> h;
  LS_RETURN_IF_ERROR(ReadUpTo(r->gz_->f, path, header, &h));
  if (h.size() >= 4 && BigEndian32(h.data()) != (0x00000800u | static_cast<uint32_t>(rank))) {
    return DataError(StatusCode::kInvalidArgument,
                     path + ": not an IDX " + (rank == 1 ? "label" : "image") + " file (bad magic number)");
  }
  if (h.size() < header) return DataError(StatusCode::kDataLoss, path + ": truncated IDX header");
  // Every dimension is < 2^32; the products are checked against the caps as they grow, so none overflows.
  uint64_t item = 1;
  for (int i = 0; i < rank; ++i) {
    const uint32_t d = BigEndian32(h.data() + 4 + 4 * static_cast<size_t>(i));
    r->dims_.push_back(d);
    if (i > 0) {
      if (d == 0) return DataError(StatusCode::kInvalidArgument, path + ": an IDX item dimension is 0");
      item *= d;
      if (item > limits.max_item_bytes) {
        std::string shape;
        for (int j = 1; j < rank; ++j) {
          shape += (j > 1 ? "x" : "") + std::to_string(BigEndian32(h.data() + 4 + 4 * static_cast<size_t>(j)));
        }
        return OverLimit(path, "max_item_bytes", limits.max_item_bytes,
                         std::string("implausible ") + (rank == 3 ? "image" : "item") + " size " + shape);
      }
    }
  }
  r->item_bytes_ = static_cast<int64_t>(item);
  const uint64_t total = static_cast<uint64_t>(r->dims_[0]) * item;  // < 2^32 * 2^24: no overflow
  if (total > limits.max_decompressed_bytes) {
    return OverLimit(path, "max_decompressed_bytes", limits.max_decompressed_bytes,
                     "the header declares " + std::to_string(total) + " bytes of data");
  }
  return r;
}

Result<std::vector<uint8_t>> IdxReader::ReadItems(int64_t count) {
  if (count < 0 || count > dims_[0]) {
    return DataError(StatusCode::kInvalidArgument, path_ + ": " + std::to_string(count) + " items asked of " +
                                                       std::to_string(dims_[0]));
  }
  const uint64_t want = static_cast<uint64_t>(count) * static_cast<uint64_t>(item_bytes_);  // <= the checked total
  std::vector<uint8_t> out;
  out.reserve(std::min<uint64_t>(want, kMaxReserve));
  LS_RETURN_IF_ERROR(ReadUpTo(gz_->f, path_, want, &out));
  if (out.size() < want) {
    return DataError(StatusCode::kInvalidArgument, path_ + ": truncated IDX data (the header says " +
                                                std::to_string(dims_[0]) + " items)");
  }
  return out;
}

Result<std::vector<uint8_t>> ReadMaybeGzip(const std::string& path, const RawDataLimits& limits) {
  std::unique_ptr<gzFile_s, int (*)(gzFile)> f(gzopen(path.c_str(), "rb"), gzclose);
  if (!f) return DataError(StatusCode::kNotFound, path + ": cannot open");
  std::vector<uint8_t> out;
  // One byte past the cap tells a file at the cap from one over it.
  LS_RETURN_IF_ERROR(ReadUpTo(f.get(), path, limits.max_decompressed_bytes + 1, &out));
  if (out.size() > limits.max_decompressed_bytes) {
    return OverLimit(path, "max_decompressed_bytes", limits.max_decompressed_bytes, "the file decompresses to more");
  }
  return out;
}

Status CheckCifarBatch(const std::vector<uint8_t>& bytes, const std::string& path) {
  if (bytes.size() % kCifarRecordBytes != 0) {
    return DataError(StatusCode::kInvalidArgument,
                     path + ": size is not a multiple of 3073 bytes (not CIFAR-10 binary)");
  }
  for (size_t i = 0; i < bytes.size(); i += kCifarRecordBytes) {
    if (bytes[i] > 9) {
      return DataError(StatusCode::kInvalidArgument, path + ": record " + std::to_string(i / kCifarRecordBytes) +
                                                         " has label " + std::to_string(bytes[i]) +
                                                         " (CIFAR-10 labels are 0..9)");
    }
  }
  return Status::Ok();
}

}  // namespace landscape::engine
