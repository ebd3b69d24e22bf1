// What a worker computes with: declared here, implemented on the engine
// (landscape::worker::EngineEvaluatorFactory, LibTorch); benchmarks and unit
// tests use trivial ones.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "landscape/core/grid.h"
#include "landscape/core/spec.h"
#include "landscape/core/status.h"

namespace landscape::core {

/// One job loaded once (model, data, directions), then any number of tiles.
class TileEvaluator {
 public:
  virtual ~TileEvaluator() = default;
  /// The values of points [tile.begin, tile.end): metric-major in
  /// spec.MetricNames() order (metric m, point i at m * tile.size() + i).
  /// Calls `keep_going` between points; when it answers false, stops and
  /// returns kCancelled.
  virtual Result<std::vector<double>> Evaluate(const Tile& tile, const std::function<bool()>& keep_going) = 0;
  /// How points are evaluated, for logs ("batch=32 path=frozen lanes=1 ..."); may be empty.
  virtual std::string Description() const { return {}; }
};

/// Files a job's preparation writes for the caller to publish (paths, "" for none).
struct PreparedFiles {
  std::string directions;  // the direction file (the reference's layout); "" when the spec reads one already
  std::string projection;  // PCA jobs: the checkpoints' projection file (proj_xcoord, proj_ycoord, ...)
  /// What the surface file says of its computation, as `landscape local` writes it (e.g.
  /// "hessian_definition", "version_libtorch"): HDF5 attribute name -> text.
  std::map<std::string, std::string> attributes;
};

class EvaluatorFactory {
 public:
  virtual ~EvaluatorFactory() = default;
  /// Loads and checks the job's model and data and makes its directions,
  /// writing the files under `scratch_dir`.
  virtual Result<PreparedFiles> Prepare(const JobSpec& spec, const std::string& scratch_dir) = 0;
  /// Prepare that calls `keep_going` while it works (at least every ~100 ms in factories that can
  /// stop: the worker's sandbox) and returns kCancelled soon after it answers false. By default the
  /// preparation runs to its end without asking.
  virtual Result<PreparedFiles> Prepare(const JobSpec& spec, const std::string& scratch_dir,
                                        const std::function<bool()>& keep_going) {
    (void)keep_going;
    return Prepare(spec, scratch_dir);
  }
  /// An evaluator for `spec`, whose directions come from the prepared file.
  virtual Result<std::unique_ptr<TileEvaluator>> Open(const JobSpec& spec) = 0;
};

}  // namespace landscape::core
