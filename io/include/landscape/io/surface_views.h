// Read-only views of a surface that pictures, exports, summaries and reports
// share: derived metrics, CI labels and a one-line description of the job.
// No PLplot, no Torch: landscape_io only.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "landscape/core/status.h"
#include "landscape/io/hdf5_files.h"

namespace landscape::io {

/// Values of `metric` over the grid, [ny * nx] with row = y (as Surface::metrics),
/// with NaN at every point that is not done. Besides the stored datasets
/// (train_loss, train_acc, test_loss, test_acc, min_eig, max_eig) it derives:
///   train_err / test_err = 100 - accuracy (percent; the reference meant to
///                          support these and never did),
///   eig_ratio            = |min_eig / max_eig| (the paper's convexity map),
///   eig_ratio_signed     = min_eig / max_eig (the reference's second ratio picture:
///                          negative where the surface curves down along some direction).
/// An unknown or absent metric is InvalidArgument naming `field` and the
/// metrics this surface has.
core::Result<std::vector<double>> MetricValues(const Surface& s, const std::string& metric,
                                               const std::string& field = "--metric");

/// Every name MetricValues accepts for this surface, stored ones first.
std::vector<std::string> AvailableMetrics(const Surface& s);

/// The loss a picture or a summary uses when none is named: train_loss, else
/// test_loss, else the first stored metric ("" for a surface without any).
std::string PrimaryMetric(const Surface& s);

/// True for train_loss / test_loss.
bool IsLossMetric(const std::string& metric);

/// A human-readable axis label: "train loss", "test accuracy (%)", "|λmin/λmax|".
std::string MetricDisplayName(const std::string& metric);

/// The job's CI labels (repository, commit, run, ...): the spec's labels,
/// overridden by the surface's `label_<key>` attributes.
std::map<std::string, std::string> SurfaceLabels(const Surface& s);

/// "key=value key=value" in key order; "" when there are none.
std::string LabelsLine(const std::map<std::string, std::string>& labels);

/// What a title says about the job, from the surface's "spec" attribute
/// (empty strings when the file has no spec, e.g. a reference file).
struct SurfaceDescription {
  std::string model;       // "model_2.pt (cnn)"
  std::string data;        // "fashion-mnist train, 500 samples, cross-entropy"
  std::string directions;  // "random filter/biasbn weights, seed 123" / "pca" / "target"
  std::string grid;        // "21 x 21 points, x -1:1, y -1:1"
  std::string name;        // the spec's free-form name
};
SurfaceDescription DescribeSurface(const Surface& s);

/// Title text for a picture of `metric`: "<name or model> · <metric>" and a
/// second line with data, directions and grid.
std::vector<std::string> TitleLines(const Surface& s, const std::string& metric);

/// Cell widths of coordinates c (trapezoid rule: half the distance to each
/// neighbour; the end cells get half a spacing). Their sum is max - min; a
/// single coordinate gets width 0.
std::vector<double> CellWidths(const std::vector<double>& c);

/// Index of the coordinate nearest 0 (the first one on ties): the centre's
/// column or row.
size_t NearestToZero(const std::vector<double>& c);

}  // namespace landscape::io
