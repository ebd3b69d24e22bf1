// The engine's flags on a CLI11 command line, declared once for every program that runs the engine:
// `landscape local`, `trajectory`, `hessian` and `train`, `landscape-worker`, and bench/engine_bench.
// The same names, help texts, checks and defaults (EngineOptions' own, options.h) everywhere.
#pragma once

#include "landscape/engine/options.h"

namespace CLI {
class App;
}

namespace landscape::engine {

/// Which of the engine's flags a command line gets: bits, combined with |.
enum EngineFlag : unsigned {
  kDeviceFlags = 1u << 0,    // --device, --threads
  kDataFlags = 1u << 1,      // --data-root (default: $LANDSCAPE_DATA_DIR, else kDefaultDataRoot)
  kRuntimeFlags = 1u << 2,   // --cudnn-benchmark (default: on; $LANDSCAPE_CUDNN_BENCHMARK=0 turns it off)
  /// --precision, --no-optimize, --channels-last, --auto-batch, --first-layer, --data-parallel, --onednn,
  /// --cuda-graphs: how points are evaluated.
  kEvaluationFlags = 1u << 3,
  /// --device also takes a comma-separated list, one engine per entry (`landscape local` expands it).
  kDeviceListFlag = 1u << 4,
  kAllEngineFlags = kDeviceFlags | kDataFlags | kRuntimeFlags | kEvaluationFlags,
  kAnalysisEngineFlags = kDeviceFlags | kDataFlags | kRuntimeFlags,  // trajectory, hessian: no evaluation paths
};

/// Adds the flags `which` names to `app`, bound to `opts` (which must outlive the parse). The flags'
/// defaults are opts' values when this is called (EngineOptions' defaults unless the caller changed
/// one first). A bad value is a CLI11 parse error naming the flag (a ValidationError: exit 2, usage),
/// whether it came from the flag or from the environment variable the flag's help names.
void AddEngineFlags(CLI::App* app, EngineOptions* opts, unsigned which = kAllEngineFlags);

}  // namespace landscape::engine
