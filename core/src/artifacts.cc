#include "landscape/core/artifacts.h"

namespace landscape::core {

FileRef ParseFileRef(std::string_view ref) {
  FileRef r;
  if (ref.substr(0, 9) == "artifact:") {
    r.kind = FileRef::Kind::kArtifact;
    r.value = std::string(ref.substr(9));
  } else if (ref.substr(0, 7) == "file://") {
    r.kind = FileRef::Kind::kFile;
    r.value = std::string(ref.substr(7));
  } else {
    r.value = std::string(ref);
  }
  return r;
}

std::string ArtifactRef(const std::string& sha256) { return "artifact:" + sha256; }

}  // namespace landscape::core
