#include "engine_evaluator.h"

#include <cstdio>
#include <filesystem>

#include "landscape/core/job.h"
#include "landscape/io/hdf5_files.h"

namespace landscape::worker {

using core::Result;
using core::Status;

namespace {

class EngineTileEvaluator final : public core::TileEvaluator {
 public:
  explicit EngineTileEvaluator(std::unique_ptr<engine::Engine> e)
      : engine_(std::move(e)),
        grid_(engine_->spec().grid),
        xs_(grid_.x.Coordinates()),
        ys_(grid_.y ? grid_.y->Coordinates() : std::vector<double>{}),
        metrics_(engine_->spec().MetricNames()) {}

  Result<std::vector<double>> Evaluate(const core::Tile& tile, const std::function<bool()>& keep_going) override {
    if (tile.begin < 0 || tile.end > grid_.PointCount() || tile.begin >= tile.end) {
      return core::InvalidArgument("tile", "points " + std::to_string(tile.begin) + ".." + std::to_string(tile.end) +
                                               " are outside the grid of " + std::to_string(grid_.PointCount()));
    }
    const auto n = static_cast<size_t>(tile.size());
    std::vector<double> out(metrics_.size() * n);
    for (int64_t k = tile.begin; k < tile.end; ++k) {
      if (!keep_going()) return Status(core::StatusCode::kCancelled, "stopped");
      const auto p = grid_.PointAt(k, xs_, ys_);
      LS_ASSIGN_OR_RETURN(engine::PointValues v, engine_->Evaluate(p.alpha, p.beta));
      const auto i = static_cast<size_t>(k - tile.begin);
      for (size_t m = 0; m < metrics_.size(); ++m) out[m * n + i] = v.Get(metrics_[m]);
    }
    return out;
  }

  std::string Description() const override {
    const engine::EngineInfo& i = engine_->info();
    char buf[256];
    std::snprintf(buf, sizeof buf, "device=%s threads=%d precision=%s batch=%lld path=%s lanes=%d setup_seconds=%.3f",
                  i.device.c_str(), i.threads, i.precision.c_str(), static_cast<long long>(i.batch_size),
                  i.first_layer_cached ? "first_layer"
                  : i.onednn ? "onednn"
                  : i.cuda_graphs ? "cuda_graphs"
                  : i.constants_fitted ? "fitted"
                  : i.optimized ? "frozen"
                                : "plain", i.lanes, i.setup_seconds);
    return buf;
  }

 private:
  std::unique_ptr<engine::Engine> engine_;
  core::GridSpec grid_;
  std::vector<double> xs_, ys_;
  std::vector<std::string> metrics_;
};

}  // namespace

EngineEvaluatorFactory::EngineEvaluatorFactory(engine::EngineOptions opts, ArtifactCache* cache)
    : opts_(std::move(opts)) {
  opts_.resolve = [cache](const std::string& ref) { return cache->Resolve(ref); };
}

Result<core::PreparedFiles> EngineEvaluatorFactory::Prepare(const core::JobSpec& spec,
                                                             const std::string& scratch_dir) {
  engine::EngineOptions check = opts_;
  check.check_only = true;  // no tile follows in this engine
  LS_ASSIGN_OR_RETURN(auto engine, engine::Engine::Create(spec, check));
  core::PreparedFiles files;
  // What `landscape local` writes of the computation itself (not of this worker's evaluation path).
  for (const auto& [k, v] : engine->info().notes) {
    if (k == "hessian_definition" || k == "target_weights") files.attributes[k] = v;
  }
  for (const auto& [k, v] : engine::EngineVersions()) files.attributes["version_" + k] = v;
  if (spec.directions.kind == core::DirectionKind::kFile) return files;
  std::error_code ec;
  std::filesystem::create_directories(scratch_dir, ec);
  const std::string id = core::RandomId(12);
  files.directions = (std::filesystem::path(scratch_dir) / ("directions-" + id + ".h5")).string();
  LS_RETURN_IF_ERROR(io::WriteDirectionFile(files.directions, engine->directions()));
  if (const io::Projection* proj = engine->trajectory()) {
    files.projection = (std::filesystem::path(scratch_dir) / ("projection-" + id + ".h5")).string();
    LS_RETURN_IF_ERROR(io::WriteProjectionFile(files.projection, *proj));
  }
  return files;
}

Result<std::unique_ptr<core::TileEvaluator>> EngineEvaluatorFactory::Open(const core::JobSpec& spec) {
  LS_ASSIGN_OR_RETURN(auto engine, engine::Engine::Create(spec, opts_));
  return std::unique_ptr<core::TileEvaluator>(new EngineTileEvaluator(std::move(engine)));
}

}  // namespace landscape::worker
