// CIFAR-10 binary batches (raw or gzip) through ReadMaybeGzip and CheckCifarBatch, with a small
// decompression cap: a gzip bomb must stop at the cap.
#include "fuzz_util.h"
#include "idx_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace landscape;
  static fuzz::ScratchFile file(".bin");
  engine::RawDataLimits limits;
  limits.max_decompressed_bytes = uint64_t{16} << 20;
  auto bytes = engine::ReadMaybeGzip(file.Write(data, size), limits);
  if (!bytes.ok()) {
    fuzz::ExpectInputError(bytes.status());
    return 0;
  }
  if (bytes->size() > limits.max_decompressed_bytes) std::abort();
  const core::Status s = engine::CheckCifarBatch(*bytes, file.path());
  fuzz::ExpectInputError(s);
  if (s.ok()) {
    for (size_t i = 0; i < bytes->size(); i += engine::kCifarRecordBytes) {
      if ((*bytes)[i] > 9) std::abort();  // a label CheckCifarBatch let through
    }
  }
  return 0;
}
