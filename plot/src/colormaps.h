// Colour maps loaded into PLplot's cmap1, and the cmap0 palette for lines and text.
#pragma once

#include <array>

namespace landscape::plot {

enum class Colormap {
  kViridis,   // the reference's heat maps and (through a matplotlib default) its contour lines
  kCoolwarm,  // the reference's 3-D surfaces
};

/// RGB (0..1) of `map` at t in [0, 1] (clamped), piecewise linear between the
/// control points that SetColormap also gives PLplot.
std::array<double, 3> ColormapAt(Colormap map, double t);

/// Loads `map` into cmap1, restricted to [lo, hi] of its range (e.g. 0..0.85
/// drops viridis' pale yellow end for lines on white).
void SetColormap(Colormap map, double lo = 0.0, double hi = 1.0);

/// cmap0: 0 white (background), 1 black (axes, text), 2 grey, then the line
/// colours, and kLegendBackground.
void SetPalette();
constexpr int kBlack = 1;
constexpr int kGrey = 2;
/// cmap0 index of the i-th line colour (cycles through 8 distinguishable colours).
int LineColour(int i);
constexpr int kBlue = 3;  // LineColour(0)
constexpr int kLegendBackground = 15;  // white at 80 % opacity
constexpr int kRed = 4;   // LineColour(1)

}  // namespace landscape::plot
