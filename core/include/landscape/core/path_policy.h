// Which local paths a submitted spec may name. In the service, paths are a
// privilege the operator grants (server and worker --allow-path-root DIR);
// everything a tenant owns travels as an artifact instead. `landscape local`
// does not use this.
//
// A path is allowed when, after resolving symlinks and "..", it lies inside
// one allowed root and inside no denied root (roots resolved the same way),
// compared component by component ("/data-evil" is not inside "/data").
// The check runs on the server (the paths as the server sees them) and again
// on the worker that opens the file (must_exist: the file as the worker sees
// it, with its artifact cache as a denied root).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "landscape/core/spec.h"
#include "landscape/core/status.h"

namespace landscape::core {

struct PathPolicy {
  /// Directories whose files a spec may name. Empty: no local path is allowed at all.
  std::vector<std::string> allowed_roots;
  /// Directories never reachable by path, even inside an allowed root (e.g. a worker's artifact cache).
  std::vector<std::string> denied_roots;
};

/// One local path a spec names, with the spec field that names it.
struct SpecPath {
  std::string field;  // "model.model", "model.checkpoints[2]", "directions.file", "data.source", ...
  std::string path;   // as written, without the "file://" scheme
};

/// Every local path the spec names: model.model/arch/model2/model3, model.checkpoints[i],
/// directions.file, and data.source for idx:DIR, cifar10:DIR, tensor:FILE and FILE.pt (plain or
/// file://). Not paths: artifact:<sha256> references, the built-in data sets (fashion-mnist, mnist)
/// and synthetic: data. An unparsable data.source names no path (validation reports it).
std::vector<SpecPath> PathsInSpec(const JobSpec& spec);

/// `path` resolved (symlinks and ".." followed: std::filesystem::canonical when must_exist,
/// weakly_canonical otherwise) if the policy allows it. kInvalidArgument naming `field` and the
/// rule otherwise: no roots configured, a relative path, outside every allowed root, inside a
/// denied root, or (must_exist) a path that cannot be resolved.
Result<std::string> ResolveAllowedPath(const PathPolicy& policy, std::string_view field, const std::string& path,
                                       bool must_exist);

/// ResolveAllowedPath for every path in PathsInSpec(spec); the first refusal.
Status CheckSpecPaths(const PathPolicy& policy, const JobSpec& spec, bool must_exist);

}  // namespace landscape::core
