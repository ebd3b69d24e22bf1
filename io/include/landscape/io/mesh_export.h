// 3-D exports of a 2-D surface: VTK XML PolyData (.vtp, for ParaView; the
// reference's h52vtp.py options) and Wavefront OBJ (for Blender & co.).
//
// Unlike h52vtp.py these are right for non-square grids: point (ix, iy) has
// index iy * nx + ix (row = y, the surface's own order) and the quad of cell
// (ix, iy) is (k, k + 1, k + nx + 1, k + nx) with k = iy * nx + ix.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "landscape/core/status.h"
#include "landscape/io/hdf5_files.h"

namespace landscape::io {

struct MeshOptions {
  std::string metric;   // "" = PrimaryMetric(); anything MetricValues accepts (train_err, eig_ratio, ...)
  double zmax = 0;      // > 0: z := min(z, zmax) (h52vtp --zmax)
  bool log = false;     // z := ln(z + 0.1), after clipping (h52vtp --log)
  int interp = 0;       // > 0: resample to interp x interp points by bicubic spline interpolation
                        // (h52vtp --interp; replaces scipy's interp2d, gone in SciPy >= 1.14)
};

/// A regular grid of heights, row = y.
struct Mesh {
  std::vector<double> x;            // [nx]
  std::vector<double> y;            // [ny]
  std::vector<double> z;            // [ny * nx]; an invalid point holds the lowest valid z
  std::vector<uint8_t> valid;       // [ny * nx]; 0 where the value is missing or not finite
  std::string metric;               // what z is, e.g. "train_loss_zmax=10_log"
  std::map<std::string, std::string> labels;  // the job's CI labels
  std::string source;               // the surface file, for the record

  size_t nx() const { return x.size(); }
  size_t ny() const { return y.size(); }
  /// Cells whose four corners are valid: the quads written.
  size_t ValidCellCount() const;
};

/// Builds the mesh: picks the metric, resamples (interp > 0), clips, takes the
/// log. 1-D surfaces, an interp of 1, and resampling a surface with missing or
/// non-finite points are InvalidArgument.
core::Result<Mesh> BuildMesh(const Surface& s, const MeshOptions& opts);

/// Natural cubic spline through (xs, ys) (xs strictly increasing, at least 2
/// points; with 2 it is linear), evaluated at each of `at` (clamped to the range).
std::vector<double> CubicSpline(const std::vector<double>& xs, const std::vector<double>& ys,
                                const std::vector<double>& at);

/// Bicubic resampling of z ([ny * nx], row = y) onto the grid xo x yo: a
/// natural cubic spline along x for every row, then along y for every column.
/// Passes through the data at the original grid points and reproduces any
/// function linear in x and in y (e.g. a + b x + c y + d x y) exactly.
std::vector<double> ResampleBicubic(const std::vector<double>& x, const std::vector<double>& y,
                                    const std::vector<double>& z, const std::vector<double>& xo,
                                    const std::vector<double>& yo);

/// VTK XML PolyData, ASCII: PointData "zvalue" (Float64) and "valid" (UInt8),
/// CellData "averaged zvalue" (mean of the 4 corners), Points (x, y, z),
/// Polys (one quad per valid cell), empty Verts/Lines/Strips, and FieldData
/// string arrays "metric", "source" and "label_<key>" per CI label.
core::Status WriteVtp(const std::string& path, const Mesh& mesh);

/// Wavefront OBJ: "v x y z" per point (row = y), "f a b c d" (1-based) per
/// valid cell, the labels and metric as "#" comment lines at the top.
core::Status WriteObj(const std::string& path, const Mesh& mesh);

}  // namespace landscape::io
