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

/// The texts the picture being drawn wrote (Frame::texts). Draw() clears it
/// before a picture and moves it into the Frame after; callers hold PlplotMutex().
std::vector<std::string>& TextLog();
/// Appends `text` to TextLog() and returns it escaped for PLplot.
std::string Written(const std::string& text);

/// Path-like words (with a '/' and either a leading '/', './', '../', '~/', a
/// "scheme:" prefix or two or more '/') shortened to their last component, the
/// scheme kept: "tensor:/a/b/c.pt," -> "tensor:c.pt,". "owner/repo" stays.
std::string ShortenPaths(const std::string& text);
/// The width of `text` (UTF-8) in character heights of its own size: an
/// estimate from the font's glyph classes that errs wide, never narrow.
double TextWidth(const std::string& text);
/// `text` cut to at most `max_width` (TextWidth), ending in "…", when wider.
std::string Ellipsize(const std::string& text, double max_width);
/// How many character heights of `scale` times the default fit across
/// `fraction` of the page's width.
double WidthAcross(double scale, double fraction);

/// The title above the viewport: lines[0] large (or `override_first`), lines[1]
/// small and wrapped to the page, centred on the page.
void Title(const std::vector<std::string>& lines, const std::string& override_first);
/// `note` (e.g. the scale) and the surface's CI labels in small grey type at
/// the bottom of the page, ellipsized to the page's width.
void Footer(const io::Surface& s, const std::string& note = "");
/// "colours: log scale (automatic: ...)" for a 2-D picture's footer.
std::string ScaleNote(bool log, const PlotOptions& o, double vmin, double vmax);
/// "  (n of m points missing)", or "" when none are.
std::string MissingNote(size_t missing, size_t total);
/// Title (with MissingNote) and Footer (with `note`).
void TitleAndFooter(const io::Surface& s, const std::string& metric, size_t missing, const PlotOptions& o,
                    const std::string& note = "");

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
/// The legend box's size in viewport fractions (w, h), estimated from its
/// entries' lengths and count at the current viewport (on the large side).
std::pair<double, double> LegendSize(const std::vector<LegendEntry>& entries);
/// The lower-left corner (viewport fractions) of a legend box of (w, h) inside
/// the viewport that covers the fewest of `pts` (viewport fractions; sample the
/// curves densely), nearest a corner of the viewport among equals.
std::pair<double, double> LegendOrigin(const std::vector<std::pair<double, double>>& pts, double w, double h);
/// The legend with its lower-left corner at `origin` (viewport fractions), on a
/// translucent background; returns its box on the page in pixels.
Box Legend(const Stream& st, const std::vector<LegendEntry>& entries, std::pair<double, double> origin);

}  // namespace landscape::plot::internal
