// Pictures of loss surfaces, drawn with PLplot's cairo driver (PNG, SVG or PDF
// by the output's extension): the pictures of the paper and of its reference
// code (tomgoldstein/loss-landscape plot_2D.py, plot_1D.py,
// plot_hessian_eigen.py), right for non-square grids (row = y, x horizontal).
//
// Thread-safe: PLplot keeps global state, so every Draw holds one mutex.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "landscape/core/status.h"
#include "landscape/io/hdf5_files.h"

namespace landscape::plot {

enum class Kind {
  kContour,     // contour lines with labelled levels (2-D)
  kFilled,      // filled contours with a colour bar (2-D)
  kHeat,        // heat map, one cell per grid point, with a colour bar (2-D)
  kSurface3d,   // 3-D surface with a colour bar (2-D)
  kCurve1d,     // loss (left axis) and accuracy (right axis), overlays (1-D)
  kTrajectory,  // a projected training path over the contour of a PCA-plane surface (2-D)
  kHessian,     // |λmin/λmax|: heat map (2-D) or curve (1-D); needs min_eig and max_eig
};

/// "contour", "filled", "heat", "3d", "1d", "trajectory", "hessian".
const char* KindName(Kind kind);
/// Parses a KindName; anything else is InvalidArgument naming `field`.
core::Result<Kind> ParseKind(std::string_view name, std::string_view field = "--kind");
/// The kinds "all" stands for on this surface: 2-D: contour, filled, heat, 3d
/// (+ hessian); 1-D: 1d (+ hessian). Trajectory needs a projection file.
std::vector<Kind> AllKinds(const io::Surface& s);
/// Whether `kind` can be drawn from `s` (dimension, min_eig/max_eig); else
/// InvalidArgument saying why.
core::Status CheckKind(Kind kind, const io::Surface& s);

enum class Format { kPng, kSvg, kPdf };
/// By extension (.png, .svg, .pdf; case-insensitive); else InvalidArgument.
core::Result<Format> FormatForPath(const std::string& path);

/// The value scale of a picture: colours and levels (2-D), the loss axis (1-D).
enum class Scale {
  kAuto,    // 2-D: AutoLogScale() decides; 1-D and the Hessian map: linear
  kLinear,
  kLog,     // logarithmic; every finite value drawn must be > 0
};
/// "auto", "linear", "log".
const char* ScaleName(Scale scale);
/// Parses a ScaleName; anything else is InvalidArgument naming `field`.
core::Result<Scale> ParseScale(std::string_view name, std::string_view field = "--scale");

struct PlotOptions {
  std::string metric;                 // "" = io::PrimaryMetric(); anything io::MetricValues accepts
  std::optional<double> vmin, vmax;   // colour/level range; default: the finite data range
                                      // (hessian: 0..0.5, as the reference); values beyond are clamped
  std::optional<double> vlevel;       // level spacing: levels arange(vmin, vmax, vlevel) as the
                                      // reference; default: about 16 round levels (1-2-5 per decade
                                      // on a log scale)
  Scale scale = Scale::kAuto;         // see Scale and AutoLogScale()
  std::optional<double> xmin, xmax;   // 1-D: the α range shown (the reference's plot_1D --xmin/--xmax);
                                      // the automatic loss range then covers the points inside it
  int width = 1000;                   // pixels (PNG); points for SVG/PDF
  int height = 750;
  std::string title;                  // replaces the generated first title line when not empty
};

/// One more 1-D surface drawn on the same axes.
struct Overlay {
  const io::Surface* surface = nullptr;
  std::string label;  // legend name, e.g. "batch 128"
};

/// A projected training path (proj_xcoord / proj_ycoord) and, when the
/// direction file is a PCA file, its explained variance ratios (0..1).
struct Trajectory {
  std::vector<double> x, y;
  std::optional<std::array<double, 2>> explained_variance_ratio;
};

struct PlotData {
  const io::Surface* surface = nullptr;  // required, except for kTrajectory: then the path alone
  std::string label;                     // legend name of `surface` when there are overlays
  std::vector<Overlay> overlays;         // kCurve1d only
  std::optional<Trajectory> trajectory;  // kTrajectory only (required there)
};

/// A rectangle on the page, pixels from the top-left corner.
struct Box {
  double left = 0, right = 0, top = 0, bottom = 0;
};

/// Where the data area landed on the page, so callers (and tests) can map
/// data coordinates to pixels: pixel (0, 0) is the top-left corner. Also what
/// the picture wrote: every text it placed itself (title lines, axis titles,
/// colour-bar label, legend entries, footer, the 3-D α/β tick labels; not the
/// tick numbers PLplot writes), the scale and levels it used, and its legend's box.
struct Frame {
  int width = 0, height = 0;                   // page, pixels (points for SVG/PDF)
  double left = 0, right = 0, top = 0, bottom = 0;  // data area edges, pixels
  double xmin = 0, xmax = 0, ymin = 0, ymax = 0;    // world coordinates at those edges
  std::vector<std::string> texts;              // in drawing order, as written (shortened, ellipsized)
  bool log_scale = false;                      // the values were drawn on a log scale
  std::vector<double> levels;                  // contour / filled: the levels drawn (data units)
  std::optional<Box> legend;                   // the legend's box, when there is one
  double PixelX(double x) const { return left + (x - xmin) / (xmax - xmin) * (right - left); }
  double PixelY(double y) const { return bottom - (y - ymin) / (ymax - ymin) * (bottom - top); }
};

/// The automatic scale rule of 2-D pictures: logarithmic when every finite
/// value in `values` is > 0 and either max/min > 100 (over two decades) or more
/// than half of them lie in the lowest tenth of [min, max] (a basin that a
/// linear scale would give one colour). `range` replaces the data's min and
/// max when given (--vmin/--vmax; values beyond count as at the ends).
bool AutoLogScale(const std::vector<double>& values, std::optional<std::pair<double, double>> range = std::nullopt);

/// The options alone, before any file is read: finite vmin < vmax, a finite
/// vlevel > 0, vmin and vmax > 0 on a log scale, a size of 100..10000.
/// InvalidArgument names the flag (--vmin, --vmax, --vlevel, --log, --width, --height).
core::Status CheckOptions(const PlotOptions& opts);
/// CheckOptions and what needs the data: with Scale::kLog, every finite value
/// of the metric `kind` draws must be > 0 (InvalidArgument naming --log).
core::Status CheckOptions(const PlotData& data, Kind kind, const PlotOptions& opts);

/// Draws one picture of `kind` into `out_path` (written atomically), after
/// CheckOptions(data, kind, opts). Bad input (a metric the surface lacks, a
/// kind that does not fit, vmin >= vmax, too many levels, an unwritable path)
/// is a Status, never a crash, and leaves no file. For 3-D pictures the frame
/// is the viewport around the projected box.
core::Result<Frame> Draw(const PlotData& data, Kind kind, const PlotOptions& opts, const std::string& out_path);

/// The levels a 2-D picture uses: arange(vmin, vmax, vlevel) when vlevel is
/// given, else round numbers (1, 2, 2.5, 5 x 10^k steps; with `log`, 1-2-5 per
/// decade) covering [vmin, vmax]. At most 500 levels (else InvalidArgument).
core::Result<std::vector<double>> Levels(double vmin, double vmax, std::optional<double> vlevel, bool log);

/// The 3-D picture's α/β tick values: both ends of [lo, hi], and round values
/// between them (steps of 1, 2, 2.5 or 5 x 10^k, about 4 intervals) that keep
/// 0.45 of a step clear of the ends.
std::vector<double> AxisTicks(double lo, double hi);

}  // namespace landscape::plot
