// landscape: the command-line client. Sets up the app, registers every subcommand (each registers its
// own flags and run function: command_registry.h), parses, runs the command that was given, and maps
// parse errors to exit codes with "did you mean" suggestions.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "command_registry.h"
#include "exit_codes.h"
#include "job_flags.h"
#include "landscape/core/system.h"

using namespace landscape;
using namespace landscape::client;

namespace {

// Levenshtein distance between a and b (insertions, deletions, substitutions).
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The candidate closest to `word`, or "" when none is within a third of its length (at least 2 edits).
std::string Closest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    const size_t d = EditDistance(word, c);
    if (d < best_d) best = c, best_d = d;
  }
  return best;
}

// A parse error as "landscape: <message>", plus "did you mean" for an unknown command or flag.
// `args` are the arguments in command-line order.
int ReportParseError(CLI::App& app, const CLI::ParseError& e, const std::vector<std::string>& args) {
  std::vector<CLI::App*> subs = app.get_subcommands([](const CLI::App*) { return true; });
  std::vector<std::string> names;
  for (CLI::App* s : subs) names.push_back(s->get_name());
  if (!args.empty() && args[0][0] != '-' && std::find(names.begin(), names.end(), args[0]) == names.end()) {
    const std::string near = Closest(args[0], names);
    std::fprintf(stderr, "landscape: unknown command '%s'%s\nlandscape: run 'landscape --help' for the commands\n",
                 args[0].c_str(), near.empty() ? "" : ("; did you mean '" + near + "'?").c_str());
    return kExitUsage;
  }
  std::fprintf(stderr, "landscape: %s\n", e.what());
  CLI::App* sub = nullptr;
  for (CLI::App* s : subs) if (!args.empty() && s->get_name() == args[0]) sub = s;
  if (sub == nullptr) return kExitUsage;
  std::vector<std::string> flags;
  for (const CLI::Option* o : sub->get_options()) {
    for (const std::string& n : o->get_lnames()) flags.push_back("--" + n);
  }
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string flag = args[i].substr(0, args[i].find('='));
    if (flag.rfind("--", 0) != 0 || std::find(flags.begin(), flags.end(), flag) != flags.end()) continue;
    const std::string near = Closest(flag, flags);
    std::fprintf(stderr, "landscape: unknown flag %s%s\n", flag.c_str(),
                 near.empty() ? "" : ("; did you mean " + near + "?").c_str());
  }
  std::fprintf(stderr, "landscape: run 'landscape %s --help' for its flags\n", sub->get_name().c_str());
  return kExitUsage;
}

// Every subcommand, in the order of `landscape --help`. A new command is one more call here.
Commands RegisterCommands(CLI::App& app) {
  Commands commands;
  AddLocalCommand(app, &commands);
  AddTrajectoryCommand(app, &commands);
  AddHessianCommand(app, &commands);
  AddTrainCommand(app, &commands);
  AddArchsCommand(app, &commands);
  AddExportArchCommand(app, &commands);
  AddPackDataCommand(app, &commands);
  AddPlotCommand(app, &commands);
  AddExportCommand(app, &commands);
  AddReportCommand(app, &commands);
  AddSubmitCommand(app, &commands);
  AddWatchCommand(app, &commands);
  AddGetCommand(app, &commands);
  AddListCommand(app, &commands);
  AddCancelCommand(app, &commands);
  AddCompletionCommand(app, &commands);  // hidden; its script lists the commands above
  return commands;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"landscape: loss landscapes of neural networks (Li et al., NeurIPS 2018)", "landscape"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("landscape ") + LANDSCAPE_VERSION);
  const Commands commands = RegisterCommands(app);
  // A compute command prepares the process (it may re-execute itself) before anything else happens.
  for (const Command& c : commands) {
    if (c.compute && argc > 1 && c.cli->get_name() == argv[1]) core::PrepareComputeProcess(argv);
  }

  if (argc == 1) {  // no command: the overview, on stdout, and the usage exit code
    std::fputs(app.help().c_str(), stdout);
    return kExitUsage;
  }
  std::vector<std::string> args = JoinNegativeValues(argc, argv);
  const std::vector<std::string> in_order = args;
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  } catch (const CLI::ParseError& e) {
    return ReportParseError(app, e, in_order);
  }
  for (const Command& c : commands) {
    if (c.cli->parsed()) return c.run();
  }
  return kExitUsage;
}
