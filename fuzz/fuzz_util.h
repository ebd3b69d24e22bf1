// Helpers shared by the fuzz targets.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "landscape/core/status.h"

namespace landscape::fuzz {

/// One file of this process under $TMPDIR (else /tmp), rewritten for every input, removed at exit.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& suffix) {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir && *dir ? dir : "/tmp") + "/landscape-fuzz-" + std::to_string(getpid()) + suffix;
  }
  ~ScratchFile() { std::remove(path_.c_str()); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  /// Replaces the file's contents with `size` bytes of `data`; aborts when it cannot.
  const std::string& Write(const uint8_t* data, size_t size) {
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    if (!f || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) std::abort();
    return path_;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// A parser's answer to untrusted bytes is a value or one of the statuses that name bad input;
/// anything else (kInternal, kUnknown, ...) is a finding.
inline void ExpectInputError(const core::Status& s) {
  using core::StatusCode;
  switch (s.code()) {
    case StatusCode::kOk:
    case StatusCode::kInvalidArgument:
    case StatusCode::kDataLoss:
    case StatusCode::kResourceExhausted:
    case StatusCode::kNotFound:
    case StatusCode::kFailedPrecondition:
      return;
    default:
      std::fprintf(stderr, "unexpected status for bad input: %s\n", s.ToString().c_str());
      std::abort();
  }
}

}  // namespace landscape::fuzz
