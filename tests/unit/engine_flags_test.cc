// The engine's options and flags (landscape/engine/options.h, flags.h), declared once for `landscape`,
// `landscape-worker` and engine_bench: the typed values and their spellings, the defaults, each flag
// landing in its field, bad values refused naming the flag, the environment variables that give
// --data-root's and --cudnn-benchmark's defaults, and which flags each flag set registers.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "landscape/engine/flags.h"
#include "landscape/engine/options.h"

namespace landscape::engine {
namespace {

using core::StatusCode;

// Sets (or with nullopt, unsets) an environment variable for one scope; restores it after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      setenv(name, value->c_str(), 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Neither environment variable set (the machine running the tests may set them).
struct CleanEnv {
  ScopedEnv data{"LANDSCAPE_DATA_DIR", std::nullopt};
  ScopedEnv cudnn{"LANDSCAPE_CUDNN_BENCHMARK", std::nullopt};
};

// `args` parsed by an app holding the flags of `which`, into options that start as `start`.
// Throws what CLI11 throws for a bad command line.
EngineOptions Parse(const std::vector<std::string>& args, unsigned which = kAllEngineFlags,
                    EngineOptions start = {}) {
  CLI::App app("test");
  AddEngineFlags(&app, &start, which);
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes the arguments last first
  app.parse(reversed);
  return start;
}

// The message CLI11 gives for `args`, or "" when they parse.
std::string ParseError(const std::vector<std::string>& args, unsigned which = kAllEngineFlags) {
  try {
    Parse(args, which);
  } catch (const CLI::ParseError& e) {
    return e.what();
  }
  return "";
}

// The long flag names an app with the flags of `which` has, sorted.
std::vector<std::string> FlagNames(unsigned which) {
  CLI::App app("test");
  EngineOptions o;
  AddEngineFlags(&app, &o, which);
  std::vector<std::string> names;
  for (const CLI::Option* opt : app.get_options()) {
    for (const std::string& n : opt->get_lnames()) {
      if (n != "help") names.push_back("--" + n);
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(EngineOptions, ValuesAndTheirSpellingsGoBothWays) {
  for (Toggle t : {Toggle::kAuto, Toggle::kOn, Toggle::kOff}) {
    auto back = ParseToggle(ToString(t), "--first-layer");
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, t);
  }
  for (Precision p : {Precision::kFp32, Precision::kBf16, Precision::kFp16}) {
    auto back = ParsePrecision(ToString(p), "--precision");
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, p);
  }
  EXPECT_STREQ(ToString(Toggle::kAuto), "auto");
  EXPECT_STREQ(ToString(Toggle::kOn), "on");
  EXPECT_STREQ(ToString(Toggle::kOff), "off");
  EXPECT_STREQ(ToString(Precision::kFp32), "fp32");
  EXPECT_STREQ(ToString(Precision::kBf16), "bf16");
  EXPECT_STREQ(ToString(Precision::kFp16), "fp16");
}

TEST(EngineOptions, ABadValueIsRefusedNamingTheField) {
  for (const char* bad : {"", "On", "yes", "autо", "1"}) {
    auto t = ParseToggle(bad, "--onednn");
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(t.status().field(), "--onednn");
    EXPECT_NE(t.status().message().find("auto, on or off"), std::string::npos) << t.status().ToString();
    EXPECT_NE(t.status().message().find(std::string("'") + bad + "'"), std::string::npos) << t.status().ToString();
  }
  auto p = ParsePrecision("fp64", "precision");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(p.status().field(), "precision");
  EXPECT_EQ(p.status().ToString(), "precision: expected fp32, bf16 or fp16, got 'fp64'");
}

TEST(EngineOptions, Fp16NeedsACudaDevice) {
  EXPECT_TRUE(CheckPrecision(Precision::kFp16, "cuda:0", "--precision").ok());
  EXPECT_TRUE(CheckPrecision(Precision::kFp16, "cuda:3", "--precision").ok());
  EXPECT_TRUE(CheckPrecision(Precision::kBf16, "cpu", "--precision").ok());
  EXPECT_TRUE(CheckPrecision(Precision::kFp32, "cpu", "--precision").ok());
  const core::Status s = CheckPrecision(Precision::kFp16, "cpu", "--precision");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.field(), "--precision");
  EXPECT_NE(s.message().find("bf16"), std::string::npos) << s.ToString();  // says what to use instead
}

TEST(EngineFlags, NoFlagsGiveEngineOptionsDefaults) {
  CleanEnv clean;
  const EngineOptions o = Parse({});
  const EngineOptions d;
  EXPECT_EQ(o.device, "auto");
  EXPECT_EQ(o.threads, 0);
  EXPECT_EQ(o.data_root, "");
  EXPECT_TRUE(o.optimize);
  EXPECT_EQ(o.precision, Precision::kFp32);
  EXPECT_FALSE(o.channels_last);
  EXPECT_FALSE(o.auto_batch);
  EXPECT_EQ(o.first_layer, Toggle::kAuto);
  EXPECT_EQ(o.data_parallel, Toggle::kAuto);
  EXPECT_EQ(o.onednn, Toggle::kAuto);
  EXPECT_EQ(o.cuda_graphs, Toggle::kAuto);
  EXPECT_TRUE(o.cudnn_benchmark);
  EXPECT_FALSE(o.check_only);
  // The same as a default-constructed EngineOptions: the defaults live in one place.
  EXPECT_EQ(o.device, d.device);
  EXPECT_EQ(o.precision, d.precision);
  EXPECT_EQ(o.first_layer, d.first_layer);
  EXPECT_EQ(o.cudnn_benchmark, d.cudnn_benchmark);
}

TEST(EngineFlags, EachFlagLandsInItsField) {
  CleanEnv clean;
  const EngineOptions o =
      Parse({"--device", "cuda:1", "--threads", "3", "--data-root", "/data", "--no-optimize", "--precision", "bf16",
             "--first-layer", "on", "--data-parallel", "off", "--onednn", "on", "--cuda-graphs", "off",
             "--channels-last", "--auto-batch", "--cudnn-benchmark", "off"});
  EXPECT_EQ(o.device, "cuda:1");
  EXPECT_EQ(o.threads, 3);
  EXPECT_EQ(o.data_root, "/data");
  EXPECT_FALSE(o.optimize);
  EXPECT_EQ(o.precision, Precision::kBf16);
  EXPECT_EQ(o.first_layer, Toggle::kOn);
  EXPECT_EQ(o.data_parallel, Toggle::kOff);
  EXPECT_EQ(o.onednn, Toggle::kOn);
  EXPECT_EQ(o.cuda_graphs, Toggle::kOff);
  EXPECT_TRUE(o.channels_last);
  EXPECT_TRUE(o.auto_batch);
  EXPECT_FALSE(o.cudnn_benchmark);
  // "=" spellings, as scripts write them (tests/python: --first-layer=off).
  const EngineOptions eq = Parse({"--first-layer=off", "--precision=fp16", "--cudnn-benchmark=0"});
  EXPECT_EQ(eq.first_layer, Toggle::kOff);
  EXPECT_EQ(eq.precision, Precision::kFp16);
  EXPECT_FALSE(eq.cudnn_benchmark);
}

TEST(EngineFlags, TheDefaultsShownAreTheCallersValues) {
  CleanEnv clean;
  EngineOptions start;
  start.device = "cpu";  // engine_bench's own default
  start.onednn = Toggle::kOff;
  EXPECT_EQ(Parse({}, kAllEngineFlags, start).device, "cpu");
  CLI::App app("test");
  AddEngineFlags(&app, &start);
  const std::string help = app.help();
  EXPECT_NE(help.find("--device TEXT=cpu"), std::string::npos) << help;
  EXPECT_NE(help.find("--onednn TEXT:{auto,on,off}=off"), std::string::npos) << help;
  EXPECT_NE(help.find("--precision TEXT:{fp32,bf16,fp16}=fp32"), std::string::npos) << help;
  EXPECT_NE(help.find("Env:LANDSCAPE_DATA_DIR"), std::string::npos) << help;
  EXPECT_NE(help.find("Env:LANDSCAPE_CUDNN_BENCHMARK"), std::string::npos) << help;
}

TEST(EngineFlags, BadValuesAreRefusedNamingTheFlag) {
  CleanEnv clean;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--first-layer", "sometimes"}, "--first-layer"},
      {{"--data-parallel", "1"}, "--data-parallel"},
      {{"--onednn", "ON"}, "--onednn"},
      {{"--cuda-graphs", ""}, "--cuda-graphs"},
      {{"--precision", "fp64"}, "--precision"},
      {{"--precision", "FP16"}, "--precision"},
      {{"--threads", "-1"}, "--threads"},
      {{"--threads", "4097"}, "--threads"},
      {{"--threads", "two"}, "--threads"},
      {{"--cudnn-benchmark", "maybe"}, "--cudnn-benchmark"},
  };
  for (const auto& [args, flag] : cases) {
    const std::string what = ParseError(args);
    EXPECT_NE(what.find(flag), std::string::npos) << args[0] << " " << args[1] << ": '" << what << "'";
  }
  // A flag the set does not hold is an unknown flag, not a silent default.
  EXPECT_NE(ParseError({"--precision", "bf16"}, kAnalysisEngineFlags), "");
}

TEST(EngineFlags, TheEnvironmentGivesTheDefaultsAndTheFlagsWin) {
  CleanEnv clean;
  {
    ScopedEnv data("LANDSCAPE_DATA_DIR", "/env/datasets");
    ScopedEnv cudnn("LANDSCAPE_CUDNN_BENCHMARK", "0");
    const EngineOptions from_env = Parse({});
    EXPECT_EQ(from_env.data_root, "/env/datasets");
    EXPECT_FALSE(from_env.cudnn_benchmark);
    const EngineOptions flags = Parse({"--data-root", "/flag", "--cudnn-benchmark", "on"});
    EXPECT_EQ(flags.data_root, "/flag");
    EXPECT_TRUE(flags.cudnn_benchmark);
  }
  {
    ScopedEnv cudnn("LANDSCAPE_CUDNN_BENCHMARK", "1");
    EXPECT_TRUE(Parse({}).cudnn_benchmark);
  }
  {
    ScopedEnv empty("LANDSCAPE_DATA_DIR", "");  // set but empty: the default, as before
    EXPECT_EQ(Parse({}).data_root, "");
  }
  {
    ScopedEnv bad("LANDSCAPE_CUDNN_BENCHMARK", "sometimes");
    EXPECT_NE(ParseError({}).find("--cudnn-benchmark"), std::string::npos) << ParseError({});
  }
  // Without the flag in the set, its variable is not read.
  ScopedEnv data("LANDSCAPE_DATA_DIR", "/env/datasets");
  EXPECT_EQ(Parse({}, kDeviceFlags | kEvaluationFlags).data_root, "");
}

TEST(EngineFlags, EachSetRegistersItsFlags) {
  const std::vector<std::string> device = {"--device", "--threads"};
  const std::vector<std::string> data = {"--data-root"};
  const std::vector<std::string> runtime = {"--cudnn-benchmark"};
  const std::vector<std::string> evaluation = {"--auto-batch", "--channels-last", "--cuda-graphs", "--data-parallel",
                                               "--first-layer", "--no-optimize", "--onednn", "--precision"};
  auto sorted = [](std::vector<std::vector<std::string>> parts) {
    std::vector<std::string> all;
    for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
    std::sort(all.begin(), all.end());
    return all;
  };
  EXPECT_EQ(FlagNames(kDeviceFlags), sorted({device}));
  EXPECT_EQ(FlagNames(kDataFlags), sorted({data}));
  EXPECT_EQ(FlagNames(kRuntimeFlags), sorted({runtime}));
  EXPECT_EQ(FlagNames(kEvaluationFlags), sorted({evaluation}));
  EXPECT_EQ(FlagNames(kAnalysisEngineFlags), sorted({device, data, runtime}));
  EXPECT_EQ(FlagNames(kAllEngineFlags), sorted({device, data, runtime, evaluation}));
  EXPECT_EQ(FlagNames(kAllEngineFlags | kDeviceListFlag), sorted({device, data, runtime, evaluation}));
}

TEST(EngineFlags, OnlyTheDeviceListFormSaysSo) {
  auto device_help = [](unsigned which) {
    CLI::App app("test");
    EngineOptions o;
    AddEngineFlags(&app, &o, which);
    return app.get_option("--device")->get_description();
  };
  EXPECT_EQ(device_help(kDeviceFlags).find("comma-separated"), std::string::npos);
  EXPECT_NE(device_help(kDeviceFlags | kDeviceListFlag).find("comma-separated"), std::string::npos);
  // The list form only adds to the single device's text.
  EXPECT_EQ(device_help(kDeviceFlags | kDeviceListFlag).rfind(device_help(kDeviceFlags), 0), 0u);
}

}  // namespace
}  // namespace landscape::engine
