// Exports of a surface that need no picture: CSV (long form) and a JSON summary.
#pragma once

#include <map>
#include <string>

#include "landscape/core/status.h"
#include "landscape/io/hdf5_files.h"

namespace landscape::io {

/// One row per (point, metric set): ix,iy,x,y,done,<metric...>. 1-D surfaces omit iy and y.
Status WriteSurfaceCsv(const std::string& path, const Surface& s);

/// What the summary reports besides the surface itself.
struct SummaryContext {
  std::string spec_json;                        // the JobSpec (JSON), if known
  std::map<std::string, std::string> labels;    // CI labels: repository, commit, run
  std::map<std::string, double> timings;        // seconds: load, directions, evaluate, total
  std::map<std::string, std::string> versions;  // landscape, libtorch, hdf5, ...
  std::map<std::string, std::string> extra;     // anything else worth recording
};

/// JSON: spec, grid, per-metric min/max with their coordinates, NaN count,
/// centre values, points done, timings, versions, labels.
std::string SurfaceSummaryJson(const Surface& s, const SummaryContext& ctx);

Status WriteTextFile(const std::string& path, const std::string& text);

}  // namespace landscape::io
