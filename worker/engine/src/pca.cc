#include "pca.h"

namespace landscape::engine {

core::Result<io::DirectionSet> PcaDirections(const core::JobSpec& spec, const torch::jit::Module& model,
                                             const torch::jit::Module* arch, const EngineOptions& opts) {
  return core::Status(core::StatusCode::kUnimplemented, "PCA directions are not implemented yet", "directions.kind");
}

}  // namespace landscape::engine
