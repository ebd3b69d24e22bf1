// The command line of the hidden `completion` command (command_registry.h): prints the bash or zsh
// completion script made from the app's own tables (completion.cc) at run time, so every command
// registered before or after it is in the script.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "command_registry.h"
#include "completion.h"
#include "exit_codes.h"

namespace landscape::client {

void AddCompletionCommand(CLI::App& app, Commands* commands) {
  auto shell = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("completion", "print the bash or zsh completion script");
  cmd->group("");  // hidden: not in --help, the man page or the completions
  cmd->add_option("shell", *shell, "bash | zsh")->required()->check(CLI::IsMember({"bash", "zsh"}));
  CLI::App* root = &app;
  auto run = [root, shell]() {
    std::fputs(CompletionScript(*root, *shell).c_str(), stdout);
    return kExitOk;
  };
  commands->push_back({cmd, run});
}

}  // namespace landscape::client
