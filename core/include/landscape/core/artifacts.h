// Artifacts: content-addressed blobs (models, data sets, direction files),
// and the references a JobSpec uses for files in the service.
#pragma once

#include <string>
#include <string_view>

#include "landscape/core/status.h"

namespace landscape::core {

/// A file reference in a service JobSpec.
struct FileRef {
  enum class Kind {
    kArtifact,  // "artifact:<sha256>": uploaded bytes
    kFile,      // "file:///absolute/path": a path every worker can read
    kPath,      // anything else: a local path (only `landscape local` and the client accept these)
  };
  Kind kind = Kind::kPath;
  std::string value;  // the sha256, or the path
};
FileRef ParseFileRef(std::string_view ref);
std::string ArtifactRef(const std::string& sha256);  // "artifact:<sha256>"

/// Where artifacts live. Declared here, implemented next to Redis.
class ArtifactStore {
 public:
  virtual ~ArtifactStore() = default;
  /// Stores the file's bytes; returns their sha256. Idempotent.
  virtual Result<std::string> PutFile(const std::string& path) = 0;
  /// Writes artifact `sha256` to `path` (atomically: a temporary file renamed),
  /// after checking its hash. NotFound for an unknown artifact.
  virtual Status FetchToFile(const std::string& sha256, const std::string& path) = 0;
};

}  // namespace landscape::core
