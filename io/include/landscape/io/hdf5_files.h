// HDF5 files in the layouts of the reference code (tomgoldstein/loss-landscape),
// so that its plot scripts and h5py users read ours and we read theirs.
//
// Surface file: xcoordinates [nx] (float64), ycoordinates [ny] (2-D only),
// metric datasets (train_loss, train_acc, test_loss, test_acc, min_eig, max_eig)
// as float64 [nx] (1-D) or [ny, nx] (2-D, row = y), dir_file (string scalar).
// Unfinished points hold the reference's sentinels (-1; +1 for min_eig); our own
// `point_done` (uint8, same shape) says which points are computed, so that a
// genuine value of 0 or below is never recomputed. Root attributes carry the
// spec (JSON), versions and labels.
//
// Direction file: groups xdirection / ydirection with datasets "0".."K-1" in
// tensor order, each float32 (int64 for integer state entries of target
// directions) in the tensor's exact shape; PCA files add explained_variance_ratio_,
// singular_values_ and explained_variance_ (float64 [2]).
//
// Projection file: proj_xcoord, proj_ycoord float64 [n_checkpoints].
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "landscape/core/grid.h"
#include "landscape/core/spec.h"
#include "landscape/core/status.h"
#include "landscape/io/arrays.h"

namespace landscape::io {

using core::Result;
using core::Status;

struct PcaInfo {
  std::vector<double> explained_variance_ratio;
  std::vector<double> singular_values;
  std::vector<double> explained_variance;
};

struct DirectionSet {
  std::vector<HostArray> x;
  std::vector<HostArray> y;  // empty for a 1-D direction file
  std::optional<PcaInfo> pca;
  std::map<std::string, std::string> attributes;

  bool has_y() const { return !y.empty(); }
};

Status WriteDirectionFile(const std::string& path, const DirectionSet& dirs);
Result<DirectionSet> ReadDirectionFile(const std::string& path);

/// Sentinel of an unfinished point for a metric (the reference's: -1, +1 for min_eig).
double UnfinishedValue(const std::string& metric);

struct Surface {
  std::vector<double> x;
  std::vector<double> y;  // empty: a 1-D surface
  std::vector<std::string> metric_names;                // file order
  std::map<std::string, std::vector<double>> metrics;   // each [ny * nx], row = y
  std::vector<uint8_t> done;                             // [ny * nx]
  std::string dir_file;
  std::map<std::string, std::string> attributes;

  bool is_2d() const { return !y.empty(); }
  size_t nx() const { return x.size(); }
  size_t ny() const { return is_2d() ? y.size() : 1; }
  size_t PointCount() const { return nx() * ny(); }
  size_t DoneCount() const;
  bool Has(const std::string& metric) const { return metrics.count(metric) != 0; }
  /// Value at column ix (x) and row iy (y).
  double At(const std::string& metric, size_t ix, size_t iy = 0) const {
    return metrics.at(metric)[iy * nx() + ix];
  }
};

/// A surface with every point unfinished.
Surface NewSurface(const core::GridSpec& grid, const std::vector<std::string>& metric_names,
                   const std::string& dir_file);

/// A service job's surface as `landscape get` and the server's HTTP download
/// write it: the spec's grid and metrics, every point unfinished, and the root
/// attributes spec (JSON), computation_key, job (`job_name`) and label_<key>.
Surface NewJobSurface(const core::JobSpec& spec, const std::string& job_name, const std::string& dir_file);
/// Once its values are in: the attribute "partial" ("true" while a point is
/// unfinished) and the job's prepared attributes (core::JobRecord::attributes).
void FinishJobSurface(const std::map<std::string, std::string>& job_attributes, Surface* surface);

/// Writes atomically (a temporary file renamed over `path`), so a reader or a
/// crash never sees a half-written file.
Status WriteSurfaceFile(const std::string& path, const Surface& surface);
/// The bytes of the file WriteSurfaceFile writes, built in memory (no file).
Result<std::string> SurfaceFileImage(const Surface& surface);
/// Reads our files and the reference's (square grids; `point_done` is then
/// derived the reference's way: loss > 0).
Result<Surface> ReadSurfaceFile(const std::string& path);

struct Projection {
  std::vector<double> x;
  std::vector<double> y;
  std::map<std::string, std::vector<double>> extra;  // e.g. off-plane distance, losses
};
/// The HDF5 library's version ("none" in builds without HDF5).
std::string Hdf5Version();

Status WriteProjectionFile(const std::string& path, const Projection& p);
Result<Projection> ReadProjectionFile(const std::string& path);

}  // namespace landscape::io
