#include "artifact_cache.h"

#include <cstdlib>
#include <filesystem>

#include "landscape/core/sha256.h"

namespace landscape::worker {

core::Result<std::string> ArtifactCache::Resolve(const std::string& ref) {
  const core::FileRef r = core::ParseFileRef(ref);
  if (r.kind == core::FileRef::Kind::kFile || r.kind == core::FileRef::Kind::kPath) {
    core::PathPolicy policy = policy_;
    if (policy.allowed_roots.empty()) policy.allowed_roots = {"/"};
    policy.denied_roots.push_back(dir_);  // the cache: never reachable by path
    return core::ResolveAllowedPath(policy, "path", r.value, /*must_exist=*/true);
  }
  if (!core::IsSha256Hex(r.value)) {
    return core::InvalidArgument("artifact", "'" + ref + "' is not artifact:<sha256>");
  }
  const std::string path = (std::filesystem::path(dir_) / r.value).string();
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return path;  // written by rename after a hash check: complete
  LS_RETURN_IF_ERROR(store_->FetchToFile(r.value, path));
  return path;
}

std::string DefaultCacheDir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x != '\0') {
    return (std::filesystem::path(x) / "landscape").string();
  }
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') {
    return (std::filesystem::path(h) / ".cache" / "landscape").string();
  }
  return (std::filesystem::temp_directory_path() / "landscape-cache").string();
}

}  // namespace landscape::worker
