// Exports of a surface that need no picture: CSV (long form) and a JSON summary.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "landscape/core/status.h"
#include "landscape/io/hdf5_files.h"

namespace landscape::io {

/// One row per (point, metric set): ix,iy,x,y,done,<metric...>. 1-D surfaces omit iy and y.
/// The job's CI labels (SurfaceLabels) follow as constant columns label_<key>.
Status WriteSurfaceCsv(const std::string& path, const Surface& s);

/// Which sharpness scalars to compute. Distances and areas are in the units of
/// the grid coordinates (multiples of the stored, e.g. filter-normalized, directions).
struct SharpnessOptions {
  /// Loss increase over the grid points with ‖(α, β)‖ ≤ r (|α| ≤ r in 1-D),
  /// relative to the centre value. Points at distance r·(1 + 1e-9) still count,
  /// so that r = 0.5 includes the linspace point 0.5000000000000001.
  std::vector<double> radii{0.1, 0.25, 0.5, 1.0};
  /// The basin: the grid points 4-connected to the centre whose loss is
  /// ≤ L(centre) + ε.
  std::vector<double> basin_epsilons{0.1, 0.5, 1.0};
};

/// What the summary reports besides the surface itself.
struct SummaryContext {
  std::string spec_json;                        // the JobSpec (JSON), if known
  std::map<std::string, std::string> labels;    // CI labels: repository, commit, run
  std::map<std::string, double> timings;        // seconds: load, directions, evaluate, total
  std::map<std::string, std::string> versions;  // landscape, libtorch, hdf5, ...
  std::map<std::string, std::string> extra;     // anything else worth recording
  SharpnessOptions sharpness;
};

/// Flat named scalars for CI gates (--fail-if) and dashboards; nullopt where a
/// scalar is undefined for this surface (e.g. the centre point is missing).
/// Names (M = each metric MetricValues accepts, L = each loss metric):
///   points, points_done, missing, nan            (nan: non-finite values of done
///                                                 points, summed over stored metrics)
///   M.min, M.max, M.centre, M.nan, M.min_x, M.min_y, M.max_x, M.max_y
///   L.max_increase@r, L.mean_increase@r          max / mean of L - L(centre) within r
///   L.basin_area@e, L.basin_fraction@e           area (α·β units; length in 1-D) of
///                                                 the basin below L(centre) + e, and
///                                                 its fraction of the grid's area
///   max_loss_increase@r, mean_loss_increase@r,   the same for the primary loss
///   basin_area@e, basin_fraction@e               (train_loss, else test_loss)
/// r and e are written as ScalarNumber() writes them ("0.5", "1").
/// The centre is the grid point nearest (0, 0) along each axis; increases
/// skip non-finite values (count them with `nan`).
using Scalars = std::map<std::string, std::optional<double>>;
Scalars SummaryScalars(const Surface& s, const SharpnessOptions& opts = {});

/// The shortest decimal that reads back as v ("0.5", "1", "0.25").
std::string ScalarNumber(double v);

/// JSON: spec, grid, per-metric min/max with their coordinates, NaN count,
/// centre values, points done, sharpness (loss increase within radii, basin
/// areas), every scalar of SummaryScalars under "scalars", timings, versions,
/// labels. Spec, versions and labels default to the surface's attributes.
std::string SurfaceSummaryJson(const Surface& s, const SummaryContext& ctx);

Status WriteTextFile(const std::string& path, const std::string& text);

/// `text` with &, <, > and " written as entities: safe in XML/HTML text and attributes.
std::string XmlEscape(const std::string& text);

}  // namespace landscape::io
