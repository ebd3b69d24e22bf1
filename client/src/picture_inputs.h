// Loading what `plot`, `export` and `report` draw from: a surface with the
// command line's --label additions, and a projected training path.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "landscape/core/status.h"
#include "landscape/io/hdf5_files.h"

namespace landscape::client {

/// Reads SURFACE.h5 (ours or the reference's) and adds `labels` (KEY=VALUE)
/// as label_<KEY> attributes, overriding the file's.
core::Result<io::Surface> LoadSurface(const std::string& path, const std::vector<std::string>& labels);

struct PathInput {
  std::vector<double> x, y;                                  // proj_xcoord, proj_ycoord
  std::optional<std::array<double, 2>> explained_variance;   // from a PCA direction file, 0..1
  std::string note;                                          // why there are no PC percentages
};

/// Reads a projection file (the reference's layout) and, for the axis labels,
/// the explained variance of `dir_file` ("" = the surface's dir_file, which may
/// be missing: then `note` says so; a named dir_file that cannot be read is an error).
core::Result<PathInput> LoadPath(const std::string& proj_file, const std::string& dir_file,
                                 const io::Surface& surface);

}  // namespace landscape::client
