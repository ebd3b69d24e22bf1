// A check of a zip archive's records (torch.save's zip format) before LibTorch's
// PyTorchStreamReader reads it: that reader allocates each record at the size the archive
// declares, so a tiny archive could ask for terabytes. No Torch here.
#pragma once

#include <cstdint>
#include <string>

#include "landscape/core/status.h"

namespace landscape::engine {

/// Reads the end of `path` and its central directory (at most 64 MiB, max_zip_directory_bytes).
/// kResourceExhausted (max_storage_bytes) when a record declares more than `max_record_bytes`;
/// kDataLoss when a stored record declares more bytes than the file has, a compressed one more
/// than deflate can expand its stored bytes to (1100x), or the directory is malformed.
core::Status CheckZipRecords(const std::string& path, uint64_t max_record_bytes);

}  // namespace landscape::engine
