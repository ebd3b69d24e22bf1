// Artifacts on the worker's local disk, by hash: each is fetched once and
// then read from `dir` by every job that names it.
#pragma once

#include <string>

#include "landscape/core/artifacts.h"
#include "landscape/core/path_policy.h"
#include "landscape/core/status.h"

namespace landscape::worker {

class ArtifactCache {
 public:
  ArtifactCache(std::string dir, core::ArtifactStore* store) : dir_(std::move(dir)), store_(store) {}

  /// Local paths in specs are checked against `policy` where they are opened (the
  /// worker's --allow-path-root; its cache and scratch directories denied). Without
  /// allowed roots only the denied ones are checked (the server refused the rest).
  void SetPathPolicy(core::PathPolicy policy) { policy_ = std::move(policy); }

  /// A local path for a spec reference: "artifact:<sha256>" is fetched into
  /// the cache unless there (checked against its hash), "file://PATH" and
  /// anything else name a path on this machine: resolved (symlinks, "..") and
  /// returned if the path policy allows it, kInvalidArgument otherwise.
  core::Result<std::string> Resolve(const std::string& ref);

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  core::ArtifactStore* store_;
  core::PathPolicy policy_{{"/"}, {}};
};

/// The default cache directory: $XDG_CACHE_HOME/landscape, ~/.cache/landscape, or a temporary one.
std::string DefaultCacheDir();

}  // namespace landscape::worker
