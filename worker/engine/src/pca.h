// PCA directions from a training trajectory (docs/design.md §1; the reference's
// plot_trajectory.py / projection.py semantics, computed without P × M memory
// twice: the rows are held once and the PCA goes through the M × M Gram matrix).
#pragma once

#include <torch/script.h>

#include "landscape/core/spec.h"
#include "landscape/engine/engine.h"
#include "landscape/io/hdf5_files.h"

namespace landscape::engine {

struct PcaResult {
  io::DirectionSet dirs;  // x, y = the top-2 principal components, with explained-variance fields
  /// Every checkpoint's coordinates in the plane (least squares: exact in the
  /// surface's frame; the reference's "cos" method gives the same for unit,
  /// orthogonal PCs) and its distance from the plane ("distance_from_plane",
  /// "relative_distance" = distance / ‖θ_i − θ_final‖).
  io::Projection projection;
};

/// Rows θ_i − θ_final over spec.model.checkpoints (TorchScript or state dicts),
/// with ≤1-D entries zeroed when directions.pca_ignore is biasbn, centred as
/// sklearn's PCA does. `model` is the final model.
core::Result<PcaResult> ComputePca(const core::JobSpec& spec, const torch::jit::Module& model,
                                   const torch::jit::Module* arch, const EngineOptions& opts);

/// Every checkpoint of spec.model.checkpoints projected onto the plane of given directions
/// (`dirs`, e.g. a random or PCA direction file; the reference's project_trajectory with
/// proj_method "lstsq": the coordinates (a, b) of the nearest point θ* + a·dx + b·dy, in the
/// surface's frame even when the directions are neither unit nor orthogonal), with the
/// distances as ComputePca's. `model` is the final model θ*.
core::Result<io::Projection> ProjectCheckpoints(const core::JobSpec& spec, const torch::jit::Module& model,
                                                const torch::jit::Module* arch, const io::DirectionSet& dirs,
                                                const EngineOptions& opts);

}  // namespace landscape::engine
