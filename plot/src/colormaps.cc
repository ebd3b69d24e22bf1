#include "colormaps.h"

#include <plplot.h>

#include <algorithm>
#include <vector>

namespace landscape::plot {

namespace {

struct Stop {
  double t, r, g, b;
};

// Viridis (matplotlib) at t = 0, 0.1, ..., 1.
const std::vector<Stop> kViridis = {
    {0.0, 0.267004, 0.004874, 0.329415}, {0.1, 0.282623, 0.140926, 0.457517}, {0.2, 0.253935, 0.265254, 0.529983},
    {0.3, 0.206756, 0.371758, 0.553117}, {0.4, 0.163625, 0.471133, 0.558148}, {0.5, 0.127568, 0.566949, 0.550556},
    {0.6, 0.134692, 0.658636, 0.517649}, {0.7, 0.266941, 0.748751, 0.440573}, {0.8, 0.477504, 0.821444, 0.318195},
    {0.9, 0.741388, 0.873449, 0.149561}, {1.0, 0.993248, 0.906157, 0.143936}};

// Coolwarm (Moreland's diverging map, as matplotlib's) at t = 0, 0.25, 0.5, 0.75, 1.
const std::vector<Stop> kCoolwarm = {{0.0, 0.2298, 0.2987, 0.7537},
                                     {0.25, 0.5543, 0.6901, 0.9955},
                                     {0.5, 0.8674, 0.8644, 0.8626},
                                     {0.75, 0.9567, 0.5980, 0.4773},
                                     {1.0, 0.7057, 0.0156, 0.1502}};

const std::vector<Stop>& StopsOf(Colormap map) { return map == Colormap::kViridis ? kViridis : kCoolwarm; }

}  // namespace

std::array<double, 3> ColormapAt(Colormap map, double t) {
  const auto& s = StopsOf(map);
  t = std::clamp(t, 0.0, 1.0);
  for (size_t i = 1; i < s.size(); ++i) {
    if (t <= s[i].t) {
      const double w = (t - s[i - 1].t) / (s[i].t - s[i - 1].t);
      return {s[i - 1].r + w * (s[i].r - s[i - 1].r), s[i - 1].g + w * (s[i].g - s[i - 1].g),
              s[i - 1].b + w * (s[i].b - s[i - 1].b)};
    }
  }
  return {s.back().r, s.back().g, s.back().b};
}

void SetColormap(Colormap map, double lo, double hi) {
  constexpr int kPoints = 21;
  std::vector<PLFLT> pos(kPoints), r(kPoints), g(kPoints), b(kPoints);
  for (int i = 0; i < kPoints; ++i) {
    pos[i] = static_cast<double>(i) / (kPoints - 1);
    const auto c = ColormapAt(map, lo + (hi - lo) * pos[i]);
    r[i] = c[0];
    g[i] = c[1];
    b[i] = c[2];
  }
  plscmap1n(256);
  plscmap1l(1, kPoints, pos.data(), r.data(), g.data(), b.data(), nullptr);
}

namespace {
// Tableau-like line colours: blue, red, green, orange, purple, brown, pink, olive.
constexpr int kLines[][3] = {{31, 119, 180}, {214, 39, 40},   {44, 160, 44},   {255, 127, 14},
                             {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {188, 189, 34}};
constexpr int kLineCount = 8;
}  // namespace

void SetPalette() {
  plscmap0n(16);
  plscol0(0, 255, 255, 255);
  plscol0(kBlack, 0, 0, 0);
  plscol0(kGrey, 150, 150, 150);
  for (int i = 0; i < kLineCount; ++i) plscol0(3 + i, kLines[i][0], kLines[i][1], kLines[i][2]);
  plscol0a(kLegendBackground, 255, 255, 255, 0.8);
}

int LineColour(int i) { return 3 + (i % kLineCount); }

}  // namespace landscape::plot
