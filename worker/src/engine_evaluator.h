// core::EvaluatorFactory on the LibTorch engine. The only worker file that
// knows the engine; its header carries no Torch types.
#pragma once

#include <memory>
#include <string>

#include "artifact_cache.h"
#include "landscape/core/evaluator.h"
#include "landscape/engine/engine.h"

namespace landscape::worker {

class EngineEvaluatorFactory final : public core::EvaluatorFactory {
 public:
  /// `opts.resolve` is replaced by the cache's: spec references are artifacts or shared paths.
  /// Errors name the references as the spec's user gave them (an uploaded file by its name), never
  /// a path of the worker's cache.
  EngineEvaluatorFactory(engine::EngineOptions opts, ArtifactCache* cache);

  using core::EvaluatorFactory::Prepare;
  core::Result<core::PreparedFiles> Prepare(const core::JobSpec& spec, const std::string& scratch_dir) override;
  core::Result<std::unique_ptr<core::TileEvaluator>> Open(const core::JobSpec& spec) override;

 private:
  core::Result<std::unique_ptr<engine::Engine>> CreateEngine(const core::JobSpec& spec, engine::EngineOptions opts);

  engine::EngineOptions opts_;
  ArtifactCache* cache_;
};

}  // namespace landscape::worker
