#include "landscape/core/path_policy.h"

#include <filesystem>
#include <system_error>

#include "landscape/core/architectures.h"
#include "landscape/core/artifacts.h"

namespace landscape::core {

namespace fs = std::filesystem;

namespace {

// A file reference (model, checkpoint, direction file, tensor data) as a path, or nothing
// for an artifact reference or an empty field.
void AddRef(std::vector<SpecPath>* out, std::string field, const std::string& ref) {
  if (ref.empty()) return;
  const FileRef r = ParseFileRef(ref);
  if (r.kind == FileRef::Kind::kArtifact) return;
  out->push_back({std::move(field), r.value});
}

// The non-empty components of a resolved absolute path ("/a/b/" -> {"a", "b"}).
std::vector<std::string> Components(const fs::path& p) {
  std::vector<std::string> parts;
  for (const fs::path& part : p.relative_path()) {
    const std::string s = part.string();
    if (!s.empty() && s != ".") parts.push_back(s);
  }
  return parts;
}

bool Inside(const std::vector<std::string>& path, const std::vector<std::string>& root) {
  if (root.size() > path.size()) return false;
  for (size_t i = 0; i < root.size(); ++i) {
    if (path[i] != root[i]) return false;
  }
  return true;
}

// A root as the filesystem resolves it; a root that does not exist (yet) is taken lexically
// with its existing prefix resolved.
std::vector<std::string> RootComponents(const std::string& root) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(root, ec), ec);
  if (ec) p = fs::absolute(root).lexically_normal();
  return Components(p);
}

}  // namespace

std::vector<SpecPath> PathsInSpec(const JobSpec& spec) {
  std::vector<SpecPath> out;
  const ModelSpec& m = spec.model;
  AddRef(&out, "model.model", m.model);
  if (!IsArchitectureName(m.arch)) AddRef(&out, "model.arch", m.arch);  // a built-in name is no path
  AddRef(&out, "model.model2", m.model2);
  AddRef(&out, "model.model3", m.model3);
  for (size_t i = 0; i < m.checkpoints.size(); ++i) {
    AddRef(&out, "model.checkpoints[" + std::to_string(i) + "]", m.checkpoints[i]);
  }
  // Listed whatever the direction kind: a path is never read unchecked.
  AddRef(&out, "directions.file", spec.directions.file);
  auto src = ParseDataSource(spec.data.source, "data.source");
  if (src.ok()) {
    switch (src->kind) {
      case DataSource::Kind::kFashionMnist:
      case DataSource::Kind::kMnist:
      case DataSource::Kind::kSynthetic: break;
      case DataSource::Kind::kIdx:
      case DataSource::Kind::kCifar10:
      case DataSource::Kind::kTensor: AddRef(&out, "data.source", src->location); break;
    }
  }
  return out;
}

Result<std::string> ResolveAllowedPath(const PathPolicy& policy, std::string_view field, const std::string& path,
                                       bool must_exist) {
  const std::string f(field);
  if (policy.allowed_roots.empty()) {
    return InvalidArgument(f, "'" + path + "': paths are not allowed on this server: upload the file (landscape "
                                           "submit does) and use artifact:<sha256>");
  }
  if (path.empty() || path[0] != '/') {
    return InvalidArgument(f, "'" + path + "' is not an absolute path (paths must start with '/')");
  }
  std::error_code ec;
  if (!must_exist) {
    // weakly_canonical takes a dangling symlink lexically: its target may exist where the file is
    // opened (a worker), so a path through one is refused.
    fs::path prefix = "/";
    for (const fs::path& part : fs::path(path).relative_path()) {
      prefix /= part;
      if (fs::is_symlink(fs::symlink_status(prefix, ec)) && !fs::exists(prefix, ec)) {
        return InvalidArgument(f, "'" + path + "' passes through a symbolic link that does not resolve");
      }
    }
    ec.clear();
  }
  const fs::path resolved = must_exist ? fs::canonical(path, ec) : fs::weakly_canonical(path, ec);
  if (ec) return InvalidArgument(f, "'" + path + "' cannot be resolved: " + ec.message());
  const std::vector<std::string> parts = Components(resolved);
  bool allowed = false;
  for (const std::string& root : policy.allowed_roots) {
    if (Inside(parts, RootComponents(root))) {
      allowed = true;
      break;
    }
  }
  if (!allowed) {
    return InvalidArgument(f, "'" + path + "' is outside the allowed roots (--allow-path-root), with symlinks "
                                           "and '..' resolved");
  }
  for (const std::string& root : policy.denied_roots) {
    if (Inside(parts, RootComponents(root))) {
      return InvalidArgument(f, "'" + path + "' is inside a directory that is never reachable by path");
    }
  }
  return resolved.string();
}

Status CheckSpecPaths(const PathPolicy& policy, const JobSpec& spec, bool must_exist) {
  for (const SpecPath& p : PathsInSpec(spec)) {
    LS_RETURN_IF_ERROR(ResolveAllowedPath(policy, p.field, p.path, must_exist).status());
  }
  return Status::Ok();
}

}  // namespace landscape::core
