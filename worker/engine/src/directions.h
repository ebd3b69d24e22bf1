// Making the directions of a job (docs/design.md §1): random (filter-normalized by
// default), target (model2 - model), PCA of a trajectory, or read from a file.
#pragma once

#include <torch/script.h>

#include "landscape/core/spec.h"
#include "landscape/engine/engine.h"
#include "landscape/io/hdf5_files.h"

namespace landscape::engine {

/// The job's directions in file form. `model` is the centre (on the CPU);
/// `arch` (may be null) is the architecture state-dict files are applied to.
/// For PCA directions, `projection` (if not null) receives the checkpoints' coordinates.
core::Result<io::DirectionSet> MakeDirections(const core::JobSpec& spec, const torch::jit::Module& model,
                                              const torch::jit::Module* arch, const EngineOptions& opts,
                                              io::Projection* projection = nullptr);

/// Cosine similarity of the x and y directions (0-D entries skipped).
double DirectionsCosine(const io::DirectionSet& dirs);

}  // namespace landscape::engine
