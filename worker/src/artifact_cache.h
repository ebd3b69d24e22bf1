// Artifacts on the worker's local disk, by hash: each is fetched once and
// then read from `dir` by every job that names it.
#pragma once

#include <string>

#include "landscape/core/artifacts.h"
#include "landscape/core/status.h"

namespace landscape::worker {

class ArtifactCache {
 public:
  ArtifactCache(std::string dir, core::ArtifactStore* store) : dir_(std::move(dir)), store_(store) {}

  /// A local path for a spec reference: "artifact:<sha256>" is fetched into
  /// the cache unless there (checked against its hash), "file://PATH" is PATH,
  /// anything else is returned as it is (a path on this machine).
  core::Result<std::string> Resolve(const std::string& ref);

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  core::ArtifactStore* store_;
};

/// The default cache directory: $XDG_CACHE_HOME/landscape, ~/.cache/landscape, or a temporary one.
std::string DefaultCacheDir();

}  // namespace landscape::worker
