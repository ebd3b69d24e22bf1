// The built-in architectures by name (no Torch here: the client, the server and the worker all
// tell a built-in name from a file reference; the engine's zoo builds them).
#pragma once

#include <string>
#include <vector>

namespace landscape::core {

struct ArchitectureInfo {
  std::string name;         // a name, or a pattern such as "wrn56_K"
  std::string description;  // one line
};

/// Every built-in architecture with a one-line description (what `landscape archs` lists).
const std::vector<ArchitectureInfo>& Architectures();

/// True when `name` names a built-in architecture (e.g. "cnn", "resnet56", "wrn56_2_noshort"):
/// a spec's model.arch that is such a name is built, not read from a file.
bool IsArchitectureName(const std::string& name);

/// The built-in names as one line for messages: "mlp, cnn, resnet20, ...".
std::string ArchitectureNameList();

}  // namespace landscape::core
