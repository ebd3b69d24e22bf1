// The web UI's files, embedded at build time (server/web/* and Debian's
// three.js; see server/cmake/EmbedWebAssets.cmake): no network at run time.
#pragma once

#include <cstddef>
#include <string>

namespace landscape::server {

struct WebAsset {
  const char* path;            // "index.html", "three.min.js", ...
  const char* type;            // Content-Type
  const unsigned char* data;
  size_t size;
};

/// The asset at `path` (no leading '/'), or nullptr.
const WebAsset* FindWebAsset(const std::string& path);

}  // namespace landscape::server
