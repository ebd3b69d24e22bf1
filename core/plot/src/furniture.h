// Page furniture shared by the pictures: text sizes, title, footer, colour
// bar, legend, frame, and small value helpers. Internal to landscape_plot.
// Every function that draws calls PLplot: callers hold PlplotMutex().
#pragma once

#include <plplot.h>

#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "landscape/io/hdf5_files.h"
#include "landscape/plot/plot.h"
#include "stream.h"

namespace landscape::plot::internal {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Text sizes, in multiples of PLplot's default character height.
constexpr double kTextScale = 1.0;
constexpr double kTitleScale = 1.15;
constexpr double kSubtitleScale = 0.8;
constexpr double kFooterScale = 0.7;

/// printf of one number.
std::string Fmt(const char* f, double v);

/// The title above the viewport: lines[0] large (or `override_first`), lines[1]
/// small and wrapped to the page, centred on the page.
void Title(const std::vector<std::string>& lines, const std::string& override_first);
/// The surface's CI labels in small grey type at the bottom of the page.
void Footer(const io::Surface& s);
/// "  (n of m points missing)", or "" when none are.
std::string MissingNote(size_t missing, size_t total);
/// Title (with MissingNote) and Footer.
void TitleAndFooter(const io::Surface& s, const std::string& metric, size_t missing, const PlotOptions& o);

/// The current viewport in pixels and its world window.
Frame CurrentFrame(const Stream& st);
/// Min and max of the finite values (inf, -inf when there are none).
std::pair<double, double> FiniteRange(const std::vector<double>& v);
/// How many values are not finite.
size_t CountMissing(const std::vector<double>& v);
/// log10 where the scale is logarithmic; NaN stays NaN (and so do values <= 0).
double Tx(double v, bool log);

/// A vertical colour bar right of the viewport. `values`: shade edges
/// (PL_COLORBAR_SHADE) or {min, max} (IMAGE / GRADIENT); `log`: the values are
/// log10 of the data; `edge_labels`: a label at every shade edge.
void ColourBar(PLINT kind, const std::vector<double>& values, const std::string& label, bool log, bool edge_labels);

struct LegendEntry {
  std::string text;
  int colour;    // cmap0 index
  int style;     // pllsty: 1 solid, 2 dashed
  double width;
  bool marker;   // a dot on the line sample
};
/// The inside position (a PL_POSITION_* combination) where a legend box of
/// (w, h) viewport fractions hides the fewest of `pts` (viewport fractions).
PLINT LegendPosition(const std::vector<std::pair<double, double>>& pts, double w, double h);
/// The legend inside the viewport at `position`, on a translucent background.
void Legend(const std::vector<LegendEntry>& entries, PLINT position);

}  // namespace landscape::plot::internal
