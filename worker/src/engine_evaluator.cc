#include "engine_evaluator.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <utility>
#include <vector>

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

// A spec reference as its user knows it: "r20.pt (artifact:b92aee12e4f0...)" for an upload whose file
// name the spec carries, else the reference itself ("artifact:..." abbreviated; a file:// path is the
// user's own).
std::string DisplayRef(const core::JobSpec& spec, const std::string& ref) {
  const core::FileRef r = core::ParseFileRef(ref);
  const std::string shown = r.kind == core::FileRef::Kind::kArtifact && r.value.size() > 12
                                ? "artifact:" + r.value.substr(0, 12) + "..."
                                : ref;
  auto it = spec.file_names.find(ref);
  return it != spec.file_names.end() ? it->second + " (" + shown + ")" : shown;
}

void ReplaceAll(std::string* text, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (size_t p = text->find(from); p != std::string::npos; p = text->find(from, p + to.size())) {
    text->replace(p, from.size(), to);
  }
}

}  // namespace

EngineEvaluatorFactory::EngineEvaluatorFactory(engine::EngineOptions opts, ArtifactCache* cache)
    : opts_(std::move(opts)), cache_(cache) {}

Result<std::unique_ptr<engine::Engine>> EngineEvaluatorFactory::CreateEngine(const core::JobSpec& spec,
                                                                           engine::EngineOptions opts) {
  // Every path the engine opens, with the reference it came from: its messages name the paths.
  auto resolved = std::make_shared<std::vector<std::pair<std::string, std::string>>>();
  opts.resolve = [cache = cache_, resolved](const std::string& ref) -> Result<std::string> {
    auto path = cache->Resolve(ref);
    if (path.ok()) resolved->emplace_back(*path, ref);
    return path;
  };
  auto engine = engine::Engine::Create(spec, opts);
  if (engine.ok()) return engine;
  std::string message = engine.status().message();
  // Longest first: a path that is a prefix of another must not cut it.
  std::sort(resolved->begin(), resolved->end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  for (const auto& [path, ref] : *resolved) {
    if (path != core::ParseFileRef(ref).value) ReplaceAll(&message, path, DisplayRef(spec, ref));
  }
  ReplaceAll(&message, cache_->dir(), "(the worker's cache)");
  return Status(engine.status().code(), message, engine.status().field());
}

Result<core::PreparedFiles> EngineEvaluatorFactory::Prepare(const core::JobSpec& spec,
                                                             const std::string& scratch_dir) {
  engine::EngineOptions check = opts_;
  check.check_only = true;  // no tile follows in this engine
  LS_ASSIGN_OR_RETURN(auto engine, CreateEngine(spec, check));
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
  LS_ASSIGN_OR_RETURN(auto engine, CreateEngine(spec, opts_));
  return std::unique_ptr<core::TileEvaluator>(new EngineTileEvaluator(std::move(engine)));
}

}  // namespace landscape::worker
