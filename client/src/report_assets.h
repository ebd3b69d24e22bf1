// The report's 3-D view, embedded at build time (client/web/report3d.js and
// Debian's three.js; see server/cmake/EmbedWebAssets.cmake): no network at run time.
#pragma once

#include <cstddef>
#include <string>

namespace landscape::client {

struct WebAsset {
  const char* path;            // "three.min.js", "report3d.js"
  const char* type;            // Content-Type
  const unsigned char* data;   // `size` bytes (and a NUL after them)
  size_t size;
};

/// The asset named `path`, or nullptr.
const WebAsset* FindWebAsset(const std::string& path);

}  // namespace landscape::client
