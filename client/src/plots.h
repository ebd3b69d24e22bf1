// Pictures drawn by the CLI (landscape plot, and --plot at the end of local/get).
#pragma once

#include <string>
#include <vector>

#include "landscape/core/status.h"
#include "landscape/io/hdf5_files.h"

namespace landscape::client {

/// Draws `kinds` ("contour", "filled", "heat", "3d", "1d", or "all") of
/// `surface` next to `surface_path` (<stem>_<metric>_<kind>.png).
core::Status DrawDefaultPlots(const std::string& surface_path, const io::Surface& surface,
                              const std::vector<std::string>& kinds);

}  // namespace landscape::client
