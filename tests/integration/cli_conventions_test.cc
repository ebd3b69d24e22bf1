// What a new user trips over in the first hour (issue 20), through the real `landscape` binary:
// help without a command, "did you mean" for mistyped commands and flags, every message prefixed
// "landscape:", one-point ranges refused, the server's default port and a hint when none answers,
// --version, and CSV numbers in their shortest round-trip form.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "landscape/core/grid.h"
#include "landscape/io/hdf5_files.h"
#include "process.h"

namespace landscape {
namespace {

using testing::Binary;
using testing::RunCommand;

const std::string kCli = Binary("client/landscape");

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Every non-empty line of `output` starts with "landscape:".
void ExpectAllPrefixed(const std::string& output) {
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) EXPECT_EQ(line.rfind("landscape:", 0), 0u) << "line: " << line << "\nall:\n" << output;
  }
}

TEST(CliConventions, NoCommandPrintsTheHelp) {
  auto r = RunCommand({kCli});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(Has(r.output, "Usage: landscape")) << r.output;
  for (const char* sub : {"local", "submit", "watch", "plot", "train"}) {
    EXPECT_TRUE(Has(r.output, std::string("\n  ") + sub + " ")) << sub << "\n" << r.output;
  }
  EXPECT_FALSE(Has(r.output, "A subcommand is required")) << r.output;
}

TEST(CliConventions, MistypedCommandGetsTheClosest) {
  auto r = RunCommand({kCli, "locl"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(Has(r.output, "landscape: unknown command 'locl'; did you mean 'local'?")) << r.output;
  ExpectAllPrefixed(r.output);
  auto far = RunCommand({kCli, "zzzzzzzz"});
  EXPECT_EQ(far.exit_code, 2) << far.output;
  EXPECT_TRUE(Has(far.output, "unknown command 'zzzzzzzz'")) << far.output;
  EXPECT_FALSE(Has(far.output, "did you mean")) << far.output;
}

TEST(CliConventions, MistypedFlagGetsTheClosest) {
  auto r = RunCommand({kCli, "local", "--model", "m.pt", "--max-sample", "200", "--out", "s.h5"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(Has(r.output, "unknown flag --max-sample; did you mean --max-samples?")) << r.output;
  EXPECT_TRUE(Has(r.output, "landscape local --help")) << r.output;
  ExpectAllPrefixed(r.output);
  auto plot = RunCommand({kCli, "plot", "s.h5", "--vmn", "0", "--out", "p.png"});
  EXPECT_EQ(plot.exit_code, 2) << plot.output;
  EXPECT_TRUE(Has(plot.output, "did you mean --vmin?")) << plot.output;
  ExpectAllPrefixed(plot.output);
}

TEST(CliConventions, OnePointRangeIsRefused) {
  for (const std::string flag : {"--x", "--y"}) {
    std::vector<std::string> argv = {kCli, "local", "--model", "m.pt", "--out", "s.h5"};
    if (flag == "--y") argv.insert(argv.end(), {"--x", "-1:1:3"});
    argv.insert(argv.end(), {flag, "-1:1:1"});
    auto r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_TRUE(Has(r.output, "landscape: error: " + flag + ": '-1:1:1' has one point")) << r.output;
    EXPECT_TRUE(Has(r.output, "MIN:MIN:1")) << r.output;
  }
}

TEST(CliConventions, ServerWithoutPortUsesTheServersDefault) {
  auto r = RunCommand({kCli, "list", "--server", "localhost", "--timeout", "5"});
  if (r.exit_code == 0) GTEST_SKIP() << "a landscape-server answers on localhost:50051 here";
  EXPECT_EQ(r.exit_code, 69) << r.output;
  EXPECT_TRUE(Has(r.output, "the server at localhost:50051")) << r.output;
  EXPECT_FALSE(Has(r.output, ":443")) << r.output;
}

TEST(CliConventions, UnreachableServerNamesHowToStartOne) {
  // Port 1 on loopback: nothing listens there (a privileged port no test binds).
  auto r = RunCommand({kCli, "list", "--server", "127.0.0.1:1", "--timeout", "5"});
  EXPECT_EQ(r.exit_code, 69) << r.output;
  EXPECT_TRUE(Has(r.output, "cannot reach the server at 127.0.0.1:1")) << r.output;
  EXPECT_TRUE(Has(r.output, "deploy/local/launch.sh")) << r.output;
  EXPECT_TRUE(Has(r.output, "LANDSCAPE_SERVER")) << r.output;
  ExpectAllPrefixed(r.output);
}

TEST(CliConventions, VersionFlag) {
  auto r = RunCommand({kCli, "--version"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("landscape ", 0), 0u) << r.output;
  EXPECT_TRUE(Has(r.output, LANDSCAPE_VERSION)) << r.output;
}

// The fewest significant digits (%.{p}g, p = 1..17) that read back as exactly v.
std::string Shortest(double v) {
  char buf[64];
  for (int p = 1; p <= 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*g", p, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

TEST(CliConventions, CsvNumbersAreShortestRoundTrip) {
  testing::ScopedTempDir dir("landscape-conventions");
  core::GridSpec g;
  g.x = {-0.9, 0.9, 7};  // linspace: -0.9, -0.6, -0.3 (as -0.30000000000000004), 0, ...
  io::Surface s = io::NewSurface(g, {"train_loss"}, "d.h5");
  for (size_t ix = 0; ix < s.nx(); ++ix) {
    s.metrics["train_loss"][ix] = ix == 0 ? 0.1 : 1.0 / 3.0;
    s.done[ix] = 1;
  }
  ASSERT_TRUE(io::WriteSurfaceFile(dir.path() + "/s.h5", s).ok());
  auto r = RunCommand({kCli, "export", dir.path() + "/s.h5", "--out", dir.path() + "/s.csv"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(dir.path() + "/s.csv");
  std::string header, first, second;
  std::getline(in, header);
  std::getline(in, first);
  std::getline(in, second);
  EXPECT_EQ(header, "ix,x,done,train_loss");
  EXPECT_EQ(first, "0,-0.9,1,0.1");  // not -0.90000000000000002 and 0.10000000000000001
  // Row 1: x = linspace's -0.6000000000000001 (not -0.6), loss 1/3: each the fewest digits that read back.
  EXPECT_EQ(second, "1," + Shortest(s.x[1]) + ",1," + Shortest(1.0 / 3.0));
  EXPECT_EQ(Shortest(1.0 / 3.0), "0.3333333333333333");
}

// The JSON summary's "partial" is a boolean (never the string "false", never null), true while points remain.
TEST(CliConventions, JsonPartialIsABoolean) {
  testing::ScopedTempDir dir("landscape-conventions");
  core::GridSpec g;
  g.x = {-1, 1, 3};
  io::Surface s = io::NewSurface(g, {"train_loss"}, "d.h5");
  for (size_t ix = 0; ix < s.nx(); ++ix) {
    s.metrics["train_loss"][ix] = 1.0 + ix;
    s.done[ix] = 1;
  }
  ASSERT_TRUE(io::WriteSurfaceFile(dir.path() + "/full.h5", s).ok());
  s.done[2] = 0;
  ASSERT_TRUE(io::WriteSurfaceFile(dir.path() + "/part.h5", s).ok());
  for (const std::string name : {"full", "part"}) {
    auto r = RunCommand({kCli, "export", dir.path() + "/" + name + ".h5", "--out", dir.path() + "/" + name + ".json"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::ifstream in(dir.path() + "/" + name + ".json");
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_TRUE(Has(ss.str(), name == "full" ? "\"partial\": false" : "\"partial\": true")) << ss.str();
  }
}

// Output paths are checked before any work: the model named here does not exist, so a message about
// the output (and no surface file) shows the check came first.
TEST(CliConventions, OutputPathsAreCheckedFirst) {
  testing::ScopedTempDir dir("landscape-conventions");
  const std::string out = dir.path() + "/s.h5";
  const std::string missing = dir.path() + "/nonexistent/x";
  struct Case { std::string flag, path; };
  for (const Case& c : {Case{"--csv", missing + ".csv"}, Case{"--json", missing + ".json"},
                        Case{"--dir-out", missing + ".dirs.h5"}, Case{"--out", missing + ".h5"}}) {
    std::vector<std::string> argv = {kCli, "local", "--model", dir.path() + "/no-model.pt", "--x", "-1:1:3"};
    if (c.flag != "--out") argv.insert(argv.end(), {"--out", out});
    argv.insert(argv.end(), {c.flag, c.path});
    auto r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_TRUE(Has(r.output, "landscape: error: " + c.flag + ": cannot write " + c.path + ": the directory " +
                                  dir.path() + "/nonexistent does not exist")) << r.output;
    EXPECT_FALSE(Has(r.output, "no-model.pt")) << r.output;
    EXPECT_FALSE(std::ifstream(out).good()) << "a surface was written before the check";
  }
  auto d = RunCommand({kCli, "local", "--model", "m.pt", "--out", dir.path()});
  EXPECT_EQ(d.exit_code, 2) << d.output;
  EXPECT_TRUE(Has(d.output, "--out: cannot write " + dir.path() + ": it is a directory")) << d.output;
}

// --arch takes a built-in name or a file, on every command that asks for one; anything else is refused
// before any work, naming the flag and listing the built-in names (not LibTorch's "open file failed").
TEST(CliConventions, UnknownArchitectureListsTheBuiltIns) {
  testing::ScopedTempDir dir("landscape-conventions");
  const std::vector<std::vector<std::string>> commands = {
      {"local", "--out", dir.path() + "/s.h5"},
      {"hessian"},
      {"trajectory", "--checkpoints", dir.path() + "/a.pt", dir.path() + "/b.pt", "--out", dir.path() + "/t"},
      {"submit", "--server", "127.0.0.1:1", "--out", dir.path() + "/s.h5"}};
  for (const auto& command : commands) {
    std::vector<std::string> argv = {kCli};
    argv.insert(argv.end(), command.begin(), command.end());
    argv.insert(argv.end(), {"--model", dir.path() + "/m.pt", "--arch", "resnet_huge"});
    auto r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 2) << command[0] << "\n" << r.output;
    EXPECT_TRUE(Has(r.output, "landscape: error: --arch: 'resnet_huge' is neither a file nor a built-in architecture"))
        << command[0] << "\n" << r.output;
    for (const char* name : {"mlp", "cnn", "resnet56", "vgg9", "densenet121", "landscape archs"}) {
      EXPECT_TRUE(Has(r.output, name)) << name << "\n" << r.output;
    }
    EXPECT_FALSE(Has(r.output, "open file failed")) << r.output;
    ExpectAllPrefixed(r.output);
  }
}

// The subcommands a user sees in `landscape --help` (the hidden `completion` aside).
const std::vector<std::string> kSubcommands = {"local", "trajectory", "hessian", "train",  "archs", "export-arch",
                                               "pack-data", "plot", "export", "report", "submit", "watch",
                                               "get", "list", "cancel"};

std::string ReadBuilt(const std::string& relative) {
  return testing::ReadFile(std::string(LANDSCAPE_BINARY_DIR) + "/" + relative);
}

// Man pages made by help2man at build time: one per program, and landscape's lists every subcommand.
TEST(CliConventions, ManPagesListEverySubcommand) {
  const std::string page = ReadBuilt("dist/landscape.1");
  ASSERT_TRUE(Has(page, ".SH NAME\nlandscape \\- ")) << page;
  for (const std::string& sub : kSubcommands) {
    std::string roff;  // help2man writes '-' as "\-"
    for (char c : sub) roff += c == '-' ? std::string("\\-") : std::string(1, c);
    EXPECT_TRUE(Has(page, ".TP\n" + roff + "\n")) << sub;
  }
  for (const std::string program : {"landscape-server", "landscape-worker"}) {
    if (!std::filesystem::exists(Binary((program == "landscape-server" ? "server/" : "worker/") + program))) continue;
    const std::string p = ReadBuilt("dist/" + program + ".1");
    EXPECT_TRUE(Has(p, "--version") || Has(p, "\\-\\-version")) << p;
    EXPECT_TRUE(Has(p, "redis")) << p;
  }
}

// `landscape completion bash|zsh` names every subcommand; the bash one completes a command and a flag.
TEST(CliConventions, CompletionScriptsNameEverySubcommand) {
  for (const std::string shell : {"bash", "zsh"}) {
    auto r = RunCommand({kCli, "completion", shell});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    for (const std::string& sub : kSubcommands) EXPECT_TRUE(Has(r.output, sub + ")")) << shell << " " << sub;
    EXPECT_EQ(r.output, ReadBuilt("dist/landscape." + shell)) << "the installed script differs";
  }
  auto complete = [](const std::string& words, int cword) {
    const std::string script = "source " + std::string(LANDSCAPE_BINARY_DIR) + "/dist/landscape.bash; COMP_WORDS=(" +
                               words + "); COMP_CWORD=" + std::to_string(cword) + "; _landscape; echo \"${COMPREPLY[*]}\"";
    return RunCommand({testing::FindProgram("bash"), "-c", script}).output;
  };
  EXPECT_EQ(complete("landscape lo", 1), "local\n");
  EXPECT_EQ(complete("landscape local --max-s", 2), "--max-samples\n");
  EXPECT_EQ(complete("landscape watch --js", 2), "--json\n");
  auto bad = RunCommand({kCli, "completion", "fish"});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
}

TEST(CliConventions, VersionOnEveryProgram) {
  for (const std::string program : {"client/landscape", "server/landscape-server", "worker/landscape-worker"}) {
    if (!std::filesystem::exists(Binary(program))) continue;  // not built in this configuration
    auto r = RunCommand({Binary(program), "--version"});
    EXPECT_EQ(r.exit_code, 0) << program << "\n" << r.output;
    const std::string name = program.substr(program.find('/') + 1);
    EXPECT_EQ(r.output, name + " " + LANDSCAPE_VERSION + "\n") << program;
  }
}

// The help of `flag` in a program's --help: its line, and the description's line below when CLI11 puts it
// there. "" when the help has no such flag.
std::string FlagHelp(const std::string& help, const std::string& flag) {
  std::istringstream in(help);
  std::string line, found;
  while (std::getline(in, line)) {
    if (!found.empty()) {
      if (line.size() > 30 && line.find_first_not_of(' ') == 30) found += "\n" + line;
      break;
    }
    if (line.rfind("  " + flag + " ", 0) == 0 || line == "  " + flag) found = line;
  }
  return found;
}

// The engine's flags are declared once (landscape/engine/flags.h): `landscape local`, landscape-worker and
// engine_bench show each with the same help, values and default; trajectory, hessian and train the same
// subsets. Only `local`'s --device takes a list, and engine_bench's defaults to cpu.
TEST(CliConventions, TheEngineFlagsAreTheSameOnEveryProgram) {
  const std::vector<std::string> common = {"--threads", "--data-root", "--cudnn-benchmark"};
  const std::vector<std::string> evaluation = {"--precision", "--no-optimize", "--channels-last", "--auto-batch",
                                               "--first-layer", "--data-parallel", "--onednn", "--cuda-graphs"};
  auto r = RunCommand({kCli, "local", "--help"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string local = r.output;
  for (const auto& list : {common, evaluation}) {
    for (const std::string& flag : list) EXPECT_NE(FlagHelp(local, flag), "") << flag << " in\n" << local;
  }
  EXPECT_TRUE(Has(FlagHelp(local, "--device"), "comma-separated list")) << local;
  EXPECT_TRUE(Has(FlagHelp(local, "--data-root"), "LANDSCAPE_DATA_DIR")) << local;
  EXPECT_TRUE(Has(FlagHelp(local, "--cudnn-benchmark"), "LANDSCAPE_CUDNN_BENCHMARK")) << local;
  EXPECT_TRUE(Has(FlagHelp(local, "--precision"), "{fp32,bf16,fp16}=fp32")) << local;

  const std::string single_device = "auto (CUDA when present, else CPU) | cpu | cuda | cuda:N";
  struct Program {
    std::vector<std::string> help;  // the command line that prints the help
    std::vector<std::vector<std::string>> flags;  // the engine's flags it has, as `local`'s
    std::string device_default;  // "" = no --device
  };
  const std::vector<Program> programs = {
      {{Binary("worker/landscape-worker"), "--help"}, {common, evaluation}, "auto"},
      {{Binary("bench/engine_bench"), "--help"}, {common, evaluation}, "cpu"},
      {{kCli, "trajectory", "--help"}, {common}, "auto"},
      {{kCli, "hessian", "--help"}, {common}, "auto"},
      {{kCli, "train", "--help"}, {{"--threads", "--data-root"}}, "auto"},
  };
  for (const Program& p : programs) {
    if (!std::filesystem::exists(p.help[0])) continue;  // not built in this configuration
    auto h = RunCommand(p.help);
    ASSERT_EQ(h.exit_code, 0) << p.help[0] << "\n" << h.output;
    for (const auto& list : p.flags) {
      for (const std::string& flag : list) {
        EXPECT_EQ(FlagHelp(h.output, flag), FlagHelp(local, flag)) << p.help[0] << " " << p.help[1] << ": " << flag;
      }
    }
    const std::string device = FlagHelp(h.output, "--device");
    EXPECT_TRUE(Has(device, "--device TEXT=" + p.device_default + " ")) << p.help[0] << ": " << device;
    EXPECT_TRUE(Has(device, single_device)) << p.help[0] << ": " << device;
    EXPECT_FALSE(Has(device, "comma-separated")) << p.help[0] << ": " << device;
  }
}

// TERM=dumb or NO_COLOR: the progress bar redraws with '\r' and spaces, never an escape sequence (a
// terminal that understands them gets the erase-line one: the check can fail).
TEST(CliConventions, ProgressUnderDumbTerminalHasNoEscape) {
  testing::ScopedTempDir dir("landscape-conventions");
  auto m = RunCommand({kCli, "export-arch", "--arch", "mlp", "--input", "1x4x4", "--classes", "3", "--out",
                       dir.path() + "/m.pt"});
  ASSERT_EQ(m.exit_code, 0) << m.output;
  auto run = [&](const std::vector<std::string>& env) {
    std::vector<std::string> argv = {testing::FindProgram("env")};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.insert(argv.end(), {kCli, "local", "--model", dir.path() + "/m.pt", "--data", "synthetic:8:1x4x4:3",
                             "--x", "-1:1:9", "--progress", "bar", "--overwrite", "--out", dir.path() + "/s.h5"});
    auto r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(Has(r.output, "9/9")) << r.output;
    return r.output;
  };
  EXPECT_TRUE(Has(run({"TERM=xterm", "NO_COLOR="}), "\033[K"));
  EXPECT_FALSE(Has(run({"TERM=dumb", "NO_COLOR="}), "\033")) << "an escape under TERM=dumb";
  EXPECT_FALSE(Has(run({"TERM=xterm", "NO_COLOR=1"}), "\033")) << "an escape under NO_COLOR";
}

// `cmake --install` puts the programs, the man pages and both completions in their places.
TEST(CliConventions, InstallPutsProgramsManPagesAndCompletions) {
  testing::ScopedTempDir prefix("landscape-install");
  auto r = RunCommand({LANDSCAPE_CMAKE_COMMAND, "--install", LANDSCAPE_BINARY_DIR, "--prefix", prefix.path()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string p = prefix.path();
  EXPECT_EQ(::access((p + "/bin/landscape").c_str(), X_OK), 0) << r.output;
  EXPECT_TRUE(Has(testing::ReadFile(p + "/share/man/man1/landscape.1"), ".SH NAME")) << r.output;
  EXPECT_TRUE(Has(testing::ReadFile(p + "/share/bash-completion/completions/landscape"), "complete ")) << r.output;
  EXPECT_TRUE(Has(testing::ReadFile(p + "/share/zsh/vendor-completions/_landscape"), "#compdef landscape"));
  for (const std::string program : {"landscape-server", "landscape-worker"}) {
    if (!std::filesystem::exists(Binary((program == "landscape-server" ? "server/" : "worker/") + program))) continue;
    EXPECT_EQ(::access((p + "/bin/" + program).c_str(), X_OK), 0) << program;
    EXPECT_TRUE(std::filesystem::exists(p + "/share/man/man1/" + program + ".1")) << program;
  }
}

// docs/service.md's first steps start everything with deploy/local/launch.sh, and the manual steps
// that follow give Redis its own port, directory and PID file (no fixed 6379, no --dir /tmp).
TEST(CliConventions, ServiceDocsLeadWithTheLaunchScript) {
  std::ifstream in(std::string(LANDSCAPE_SOURCE_DIR) + "/docs/service.md");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const size_t section = doc.find("## Running it on one machine");
  ASSERT_NE(section, std::string::npos);
  const size_t first_block = doc.find("```sh", section);
  ASSERT_NE(first_block, std::string::npos);
  const std::string block = doc.substr(first_block, doc.find("```", first_block + 5) - first_block);
  EXPECT_TRUE(Has(block, "deploy/local/launch.sh start")) << block;
  EXPECT_TRUE(Has(block, "deploy/local/launch.sh stop")) << block;
  EXPECT_FALSE(Has(block, "redis-server")) << block;
  EXPECT_FALSE(Has(doc, "--port 6379")) << "a fixed Redis port in docs/service.md";
  EXPECT_FALSE(Has(doc, "--dir /tmp")) << "Redis in the shared /tmp in docs/service.md";
  EXPECT_TRUE(Has(doc, "--pidfile")) << "the manual steps keep Redis's PID";
}

}  // namespace
}  // namespace landscape
