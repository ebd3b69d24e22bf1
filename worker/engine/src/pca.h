// PCA directions from a training trajectory (DESIGN.md §1; the reference's
// plot_trajectory.py semantics).
#pragma once

#include <torch/script.h>

#include "landscape/core/spec.h"
#include "landscape/engine/engine.h"
#include "landscape/io/hdf5_files.h"

namespace landscape::engine {

/// The top-2 principal components of the rows θ_epoch − θ_final over
/// spec.model.checkpoints (rows centred, as sklearn does), unit norm, with the
/// explained-variance fields. `model` is the final model.
core::Result<io::DirectionSet> PcaDirections(const core::JobSpec& spec, const torch::jit::Module& model,
                                             const torch::jit::Module* arch, const EngineOptions& opts);

}  // namespace landscape::engine
