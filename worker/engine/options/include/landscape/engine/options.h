// The engine's options, typed and declared once, with their defaults: what every program that runs
// the engine (landscape, landscape-worker, engine_bench) fills from its command line (flags.h) and
// hands to Engine::Create. No LibTorch and no CLI11 here, so that any part includes it cheaply; the
// engine reads no environment variable: the programs read them where they parse their flags.
#pragma once

#include <functional>
#include <string>

#include "landscape/core/status.h"

namespace landscape::engine {

/// An evaluation path's switch: kAuto takes the path when it measures faster at set-up, kOn whenever
/// the model allows it, kOff never. Written "auto" | "on" | "off".
enum class Toggle { kAuto, kOn, kOff };

/// The forward passes' dtype; losses and accuracies accumulate in float32 in every one.
/// kFp16 needs a CUDA device (CheckPrecision). Written "fp32" | "bf16" | "fp16".
enum class Precision { kFp32, kBf16, kFp16 };

const char* ToString(Toggle t);
const char* ToString(Precision p);

/// The value `text` names, or kInvalidArgument naming `field` (a flag such as "--first-layer", or an
/// options field such as "first_layer") and the values it takes.
core::Result<Toggle> ParseToggle(const std::string& text, const std::string& field);
core::Result<Precision> ParsePrecision(const std::string& text, const std::string& field);

/// Where the built-in data sets (fashion-mnist, mnist) live when EngineOptions::data_root is empty:
/// Debian's dataset packages install there. The programs' --data-root defaults to $LANDSCAPE_DATA_DIR.
inline constexpr const char* kDefaultDataRoot = "/usr/share/datasets";

struct EngineOptions {
  /// "auto" (CUDA when present, CPU otherwise), "cpu", "cuda" or "cuda:N". (`landscape local` parses a
  /// comma-separated list here and gives each engine one entry.)
  std::string device = "auto";
  int threads = 0;        // intra-op threads; 0 = the cores this process owns
  std::string data_root;  // directory of the built-in data sets; "" = kDefaultDataRoot
  /// Evaluate each point on a frozen, optimized copy of the model (BatchNorm folded, oneDNN layouts)
  /// when that measures faster; values agree with the plain model to float32 rounding.
  bool optimize = true;
  Precision precision = Precision::kFp32;
  bool channels_last = false;  // NHWC activations
  bool auto_batch = false;     // pick the batch size with the best measured throughput
  /// Compute the first layer's output for θ0 and each direction once and combine them per point
  /// (exact up to float32 rounding; pays for MLP-like models).
  Toggle first_layer = Toggle::kAuto;
  /// CPU: evaluate a point's batches in one single-threaded lane per thread instead of each operator
  /// on all threads.
  Toggle data_parallel = Toggle::kAuto;
  /// CPU, fp32 or bf16: run the convolutions on the engine's own oneDNN primitives (Winograd 3×3
  /// convolutions in float32, ReLUs and residual additions fused into them) instead of LibTorch's.
  /// Values differ from LibTorch's by Winograd's rounding, checked at set-up to stay within 1e-4 of the
  /// model outputs' scale (3e-2 in bf16).
  Toggle onednn = Toggle::kAuto;
  /// CUDA: one frozen graph for all points with its constants fitted to the point (no freezing per
  /// point), each split replayed as a captured CUDA graph. kAuto: on CUDA devices, when the fit and the
  /// replay check out at set-up; kOn: also on CPUs (the fitted graph without CUDA graphs).
  Toggle cuda_graphs = Toggle::kAuto;
  /// CUDA: time cuDNN's candidate algorithms once per convolution shape (a job runs the same few
  /// shapes thousands of times) instead of taking its heuristic's first choice. Process-wide: the last
  /// engine created sets it. No effect on CPUs.
  bool cudnn_benchmark = true;
  /// For a job's prepare step: Create checks every input and makes the directions, but no grid point
  /// will follow, so the evaluator skips the measurements that choose its fastest path (seconds on
  /// large models). Points still evaluate correctly, on the model as loaded. PCA jobs, whose
  /// projection evaluates the checkpoints, keep the measurements.
  bool check_only = false;
  /// Maps a reference in the spec (model, data, direction file) to a local path.
  /// Unset: references are paths (what `landscape local` uses).
  std::function<core::Result<std::string>(const std::string& ref)> resolve;
};

/// OK when `precision` runs on `device` (a resolved device: "cpu", "cuda:N"); fp16 on anything but
/// CUDA is kInvalidArgument naming `field`.
core::Status CheckPrecision(Precision precision, const std::string& device, const std::string& field);

}  // namespace landscape::engine
