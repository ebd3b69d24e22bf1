// Pictures drawn by the CLI (landscape plot, report, and --plot at the end of
// local/get). Implemented by plots_plplot.cc, or by plots_unavailable.cc in a
// build without PLplot (where these say so instead of drawing).
#pragma once

#include <string>
#include <vector>

#include "landscape/core/status.h"
#include "landscape/io/hdf5_files.h"

namespace landscape::client {

/// Whether this build draws pictures.
bool HavePictures();

/// Checks picture kind names ("contour", "filled", "heat", "3d", "1d",
/// "hessian", "all") before a long computation; "trajectory" is refused here
/// (it needs a projection file: use `landscape plot`).
core::Status CheckPlotKinds(const std::vector<std::string>& kinds);

/// Draws `kinds` of `surface` next to `surface_path`, as
/// <path without .h5>_<metric>_<kind>.png, and prints each file's name.
/// Kinds that need the other dimension are skipped with a note (on a 1-D
/// surface the 2-D kinds become one "1d" picture).
core::Status DrawDefaultPlots(const std::string& surface_path, const io::Surface& surface,
                              const std::vector<std::string>& kinds);

/// One PNG picture for a report.
struct ReportPicture {
  std::string caption;
  std::string png;    // the file's bytes; empty when it could not be drawn
  std::string error;  // why not
};

/// Every picture AllKinds() gives for `surface` (plus the trajectory when
/// proj_file is set), as PNG bytes drawn in a temporary directory.
std::vector<ReportPicture> ReportPictures(const io::Surface& surface, const std::string& metric,
                                          const std::string& proj_file, const std::string& dir_file);

}  // namespace landscape::client
