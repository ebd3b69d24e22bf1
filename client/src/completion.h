// Shell completion scripts for `landscape`, generated from the CLI's own command and flag tables
// (the hidden `landscape completion bash|zsh`; the build installs both).
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace landscape::client {

/// The completion script for `shell` ("bash" or "zsh"): every visible subcommand with its
/// description, and each one's long flags; other words complete as file names.
std::string CompletionScript(const CLI::App& app, const std::string& shell);

}  // namespace landscape::client
