// The `landscape` subcommands as main.cc sees them: each command registers its own subcommand, flags
// and run function (one Add*Command per command, in the cli_*.cc file of its family), and main.cc calls
// every registration in one list, parses, and runs the one command that was given.
//
// Adding a command: write `void AddFooCommand(CLI::App& app, Commands* commands)` in a file of its
// own (or its family's cli_*.cc), declare it here, add the file to client/CMakeLists.txt and the call
// to the list in main.cc (RegisterCommands). The man page and the shell completions follow from the
// app's tables by themselves.
#pragma once

#include <functional>
#include <vector>

namespace CLI {
class App;
}

namespace landscape::client {

/// One registered subcommand.
struct Command {
  CLI::App* cli = nullptr;   // the CLI11 subcommand; its flags are bound to options the registration owns
  std::function<int()> run;  // runs the command once the command line has parsed; returns the exit code
                             // (exit_codes.h); checks of flag values that need no work come first in it
  bool compute = false;      // a compute process: core::PrepareComputeProcess before parsing
};

/// The subcommands in registration order (the order of `landscape --help`).
using Commands = std::vector<Command>;

// Each adds its subcommand to `app` and appends it to `commands`.
// cli_local.cc: the engine's computations in this process.
void AddLocalCommand(CLI::App& app, Commands* commands);       // local
void AddTrajectoryCommand(CLI::App& app, Commands* commands);  // trajectory
void AddHessianCommand(CLI::App& app, Commands* commands);     // hessian
// cli_train.cc: models and data.
void AddTrainCommand(CLI::App& app, Commands* commands);       // train
void AddArchsCommand(CLI::App& app, Commands* commands);       // archs
void AddExportArchCommand(CLI::App& app, Commands* commands);  // export-arch
void AddPackDataCommand(CLI::App& app, Commands* commands);    // pack-data
// cli_pictures.cc: pictures and files from a surface file (no engine).
void AddPlotCommand(CLI::App& app, Commands* commands);    // plot
void AddExportCommand(CLI::App& app, Commands* commands);  // export
void AddReportCommand(CLI::App& app, Commands* commands);  // report
// cli_remote.cc: jobs on a landscape-server.
void AddSubmitCommand(CLI::App& app, Commands* commands);  // submit
void AddWatchCommand(CLI::App& app, Commands* commands);   // watch
void AddGetCommand(CLI::App& app, Commands* commands);     // get
void AddListCommand(CLI::App& app, Commands* commands);    // list
void AddCancelCommand(CLI::App& app, Commands* commands);  // cancel
// completion.cc: the hidden `completion bash|zsh` (scripts from `app`'s tables at run time).
void AddCompletionCommand(CLI::App& app, Commands* commands);

}  // namespace landscape::client
