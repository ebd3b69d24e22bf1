#include "landscape/engine/flags.h"

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace landscape::engine {

namespace {

// A flag whose value `parse` turns into the option (a CLI::ValidationError naming the flag otherwise),
// shown with its values and `shown_default`.
template <typename T, typename Parse>
CLI::Option* AddParsed(CLI::App* app, const std::string& flag, T* out, Parse parse,
                       const std::vector<std::string>& values, const std::string& shown_default,
                       const std::string& help) {
  auto set = [out, parse, flag](const std::string& text) {
    core::Result<T> v = parse(text, flag);
    if (!v.ok()) throw CLI::ValidationError(flag, v.status().message());
    *out = *v;
  };
  return app->add_option_function<std::string>(flag, set, help)
      ->check(CLI::IsMember(values))
      ->default_str(shown_default);
}

CLI::Option* AddToggle(CLI::App* app, const std::string& flag, Toggle* out, const std::string& help) {
  return AddParsed(app, flag, out, ParseToggle, {"auto", "on", "off"}, ToString(*out), help);
}

// "on" / "off" (also "1" / "0", the environment variable's old spelling).
core::Result<bool> ParseOnOff(const std::string& text, const std::string& field) {
  if (text == "on" || text == "1") return true;
  if (text == "off" || text == "0") return false;
  return core::InvalidArgument(field, "expected on or off, got '" + text + "'");
}

void AddDeviceFlags(CLI::App* app, EngineOptions* opts, bool device_list) {
  const std::string devices = "auto (CUDA when present, else CPU) | cpu | cuda | cuda:N";
  app->add_option("--device", opts->device,
                  device_list ? devices + " | cuda:all, or a comma-separated list: one engine per entry, points "
                                          "shared out (cpu may repeat: the cores are split)"
                              : devices)
      ->capture_default_str();
  app->add_option("--threads", opts->threads, "intra-op threads (default: the cores this process owns)")
      ->check(CLI::Range(0, 4096));
}

void AddEvaluationFlags(CLI::App* app, EngineOptions* opts) {
  app->add_flag_callback("--no-optimize", [opts] { opts->optimize = false; },
                         "evaluate on the model as loaded instead of a frozen, optimized copy per point (with "
                         "--first-layer, --data-parallel and --onednn off: the same path on every machine, "
                         "whatever it measures)");
  AddParsed(app, "--precision", &opts->precision, ParsePrecision, {"fp32", "bf16", "fp16"},
            ToString(opts->precision),
            "forward passes in fp32 | bf16 | fp16 (fp16: CUDA only); losses accumulate in float32");
  AddToggle(app, "--first-layer", &opts->first_layer,
            "auto | on | off: compute the first layer once for the centre and each direction and combine it per "
            "point (auto: when measured faster)");
  AddToggle(app, "--data-parallel", &opts->data_parallel,
            "auto | on | off: CPU: split a point's batches over one single-threaded lane per thread instead of "
            "each operator over the threads (auto: when measured faster)");
  AddToggle(app, "--onednn", &opts->onednn,
            "auto | on | off: CPU, fp32 or bf16: run the convolutions on landscape's own oneDNN primitives "
            "(Winograd 3x3 convolutions in fp32, ReLUs and residual additions fused; values within 1e-4 of "
            "LibTorch's in fp32) instead of LibTorch's (auto: when measured faster)");
  AddToggle(app, "--cuda-graphs", &opts->cuda_graphs,
            "auto | on | off: CUDA: one frozen graph for all points with its constants fitted to the point (no "
            "freezing per point) and each split replayed as a captured CUDA graph (auto: on CUDA devices when "
            "the set-up checks pass; on: also on CPUs, without CUDA graphs)");
  app->add_flag("--channels-last", opts->channels_last, "NHWC activations (faster convolutions on GPUs)");
  app->add_flag("--auto-batch", opts->auto_batch,
                "choose the evaluation batch size by measured throughput (instead of the job's batch size)");
}

}  // namespace

void AddEngineFlags(CLI::App* app, EngineOptions* opts, unsigned which) {
  if (which & kDeviceFlags) AddDeviceFlags(app, opts, (which & kDeviceListFlag) != 0);
  if (which & kEvaluationFlags) AddEvaluationFlags(app, opts);
  if (which & kDataFlags) {
    app->add_option("--data-root", opts->data_root,
                    std::string("directory of the built-in data sets fashion-mnist and mnist (default: ") +
                        kDefaultDataRoot + ", where Debian's packages put them)")
        ->envname("LANDSCAPE_DATA_DIR");
  }
  if (which & kRuntimeFlags) {
    AddParsed(app, "--cudnn-benchmark", &opts->cudnn_benchmark, ParseOnOff, {"on", "off", "1", "0"},
              opts->cudnn_benchmark ? "on" : "off",
              "on | off: CUDA: time cuDNN's algorithms once per convolution shape instead of taking its "
              "heuristic's first choice")
        ->envname("LANDSCAPE_CUDNN_BENCHMARK");
  }
}

}  // namespace landscape::engine
