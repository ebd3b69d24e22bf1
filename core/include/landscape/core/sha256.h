// SHA-256 (FIPS 180-4): the content address of artifacts.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "landscape/core/status.h"

namespace landscape::core {

/// Incremental SHA-256. Update() any number of times, then HexDigest() once.
class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t size);
  void Update(std::string_view bytes) { Update(bytes.data(), bytes.size()); }
  /// The digest as 64 lower-case hex characters. Ends the computation.
  std::string HexDigest();

 private:
  void Block(const uint8_t* p);

  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t buf_len_ = 0;
  uint64_t total_ = 0;  // bytes
};

/// SHA-256 of a byte string, as hex.
std::string Sha256Hex(std::string_view bytes);

/// SHA-256 of a file's contents, as hex.
Result<std::string> Sha256File(const std::string& path);

/// True for 64 lower-case hex characters.
bool IsSha256Hex(std::string_view s);

}  // namespace landscape::core
