#include "landscape/plot/plot.h"

#include <plplot.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "colormaps.h"
#include "landscape/io/surface_views.h"
#include "stream.h"

namespace landscape::plot {

namespace {

using core::InvalidArgument;
using core::Result;
using core::Status;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kHuge = 1e300;  // a heat-map cell outside [zmin, zmax]: not drawn

// ---- text ---------------------------------------------------------------------

std::string Fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// Page furniture sizes, in PLplot character-height multiples of the default.
constexpr double kTextScale = 1.0;
constexpr double kTitleScale = 1.15;
constexpr double kSubtitleScale = 0.8;
constexpr double kFooterScale = 0.7;

// Splits "a  ·  b  ·  c" into lines of at most `max_chars`, breaking at the separators.
std::vector<std::string> Wrap(const std::string& text, size_t max_chars) {
  static const std::string kSep = "  ·  ";
  std::vector<std::string> parts;
  size_t pos = 0;
  while (true) {
    const size_t next = text.find(kSep, pos);
    parts.push_back(text.substr(pos, next == std::string::npos ? std::string::npos : next - pos));
    if (next == std::string::npos) break;
    pos = next + kSep.size();
  }
  std::vector<std::string> lines;
  for (const std::string& part : parts) {
    if (!lines.empty() && lines.back().size() + kSep.size() + part.size() <= max_chars) {
      lines.back() += kSep + part;
    } else {
      lines.push_back(part);
    }
  }
  return lines;
}

// How many characters of the current height fit across the page (glyphs are
// about 0.6 of the character height wide in the cairo sans font; UTF-8 bytes
// over-count, which only wraps earlier).
size_t CharsAcrossPage(double scale) {
  PLFLT def = 0, ht = 0, x0 = 0, x1 = 0, y0 = 0, y1 = 0;
  plgchr(&def, &ht);
  plgspa(&x0, &x1, &y0, &y1);
  const double w = 0.6 * def * scale;
  return w > 0 ? static_cast<size_t>(0.96 * (x1 - x0) / w) : 120;
}

// The title above the viewport: the first line large, the description below
// it small and wrapped to the page's width.
void Title(const std::vector<std::string>& lines, const std::string& override_first) {
  // Centred on the page, not on the viewport (which a colour bar or a 3-D box
  // moves off centre): a page-wide viewport with the same top, then back.
  PLFLT vx0, vx1, vy0, vy1, wx0, wx1, wy0, wy1;
  plgvpd(&vx0, &vx1, &vy0, &vy1);
  plgvpw(&wx0, &wx1, &wy0, &wy1);
  plvpor(0.02, 0.98, vy0, vy1);
  plcol0(kBlack);
  const std::string first = override_first.empty() ? (lines.empty() ? "" : lines[0]) : override_first;
  std::vector<std::string> sub;
  if (lines.size() > 1 && !lines[1].empty()) sub = Wrap(lines[1], CharsAcrossPage(kSubtitleScale));
  // plmtex displacements count in the current character height.
  double disp = 1.0;  // in normal character heights above the viewport
  plschr(0, kSubtitleScale);
  for (size_t i = sub.size(); i-- > 0;) {
    plmtex("t", disp / kSubtitleScale, 0.5, 0.5, EscapeText(sub[i]).c_str());
    disp += 1.45 * kSubtitleScale;
  }
  plschr(0, kTitleScale);
  plmtex("t", (disp + 0.35) / kTitleScale, 0.5, 0.5, EscapeText(first).c_str());
  plschr(0, kTextScale);
  plvpor(vx0, vx1, vy0, vy1);
  plwind(wx0, wx1, wy0, wy1);
}

// The job's CI labels in small grey type at the bottom of the page, aligned
// with the viewport's left edge.
void Footer(const io::Surface& s) {
  const std::string labels = io::LabelsLine(io::SurfaceLabels(s));
  if (labels.empty()) return;
  PLFLT vx0, vx1, vy0, vy1, wx0, wx1, wy0, wy1;
  plgvpd(&vx0, &vx1, &vy0, &vy1);
  plgvpw(&wx0, &wx1, &wy0, &wy1);
  plvpor(vx0, 0.98, 0.0, 1.0);
  plcol0(kGrey);
  plschr(0, kFooterScale);
  plmtex("b", -0.9, 0.0, 0.0, EscapeText(labels).c_str());  // inside the page-high viewport
  plschr(0, kTextScale);
  plcol0(kBlack);
  plvpor(vx0, vx1, vy0, vy1);
  plwind(wx0, wx1, wy0, wy1);
}

// ---- geometry -------------------------------------------------------------------

// PLplot's 2-D arrays are x-major (f[ix][iy]); surfaces are row = y ([iy * nx + ix]).
class Matrix {
 public:
  Matrix(const std::vector<double>& v, size_t nx, size_t ny) : data_(nx * ny), rows_(nx) {
    for (size_t iy = 0; iy < ny; ++iy) {
      for (size_t ix = 0; ix < nx; ++ix) data_[ix * ny + iy] = v[iy * nx + ix];
    }
    for (size_t ix = 0; ix < nx; ++ix) rows_[ix] = &data_[ix * ny];
  }
  PLFLT_MATRIX get() const { return rows_.data(); }

 private:
  std::vector<PLFLT> data_;
  std::vector<const PLFLT*> rows_;
};

// Index space -> world coordinates for plcont/plshades/plimagefr (pltr1).
struct Grid1 {
  std::vector<PLFLT> xg, yg;
  PLcGrid c{};
  Grid1(std::vector<double> x, std::vector<double> y) : xg(std::move(x)), yg(std::move(y)) {
    c.xg = xg.data();
    c.yg = yg.data();
    c.zg = nullptr;
    c.nx = static_cast<PLINT>(xg.size());
    c.ny = static_cast<PLINT>(yg.size());
  }
  PLPointer data() { return &c; }
};

// Cell edges around coordinates c: midpoints, half a spacing beyond the ends.
std::vector<double> Edges(const std::vector<double>& c) {
  const size_t n = c.size();
  std::vector<double> e(n + 1);
  if (n == 1) return {c[0] - 0.5, c[0] + 0.5};
  for (size_t i = 1; i < n; ++i) e[i] = 0.5 * (c[i - 1] + c[i]);
  e[0] = c[0] - (e[1] - c[0]);
  e[n] = c[n - 1] + (c[n - 1] - e[n - 1]);
  return e;
}

Frame CurrentFrame(const Stream& st) {
  PLFLT dx0, dx1, dy0, dy1, wx0, wx1, wy0, wy1;
  plgvpd(&dx0, &dx1, &dy0, &dy1);
  plgvpw(&wx0, &wx1, &wy0, &wy1);
  Frame f;
  f.width = st.width();
  f.height = st.height();
  f.left = dx0 * st.width();
  f.right = dx1 * st.width();
  f.top = (1 - dy1) * st.height();
  f.bottom = (1 - dy0) * st.height();
  f.xmin = wx0;
  f.xmax = wx1;
  f.ymin = wy0;
  f.ymax = wy1;
  return f;
}

std::pair<double, double> FiniteRange(const std::vector<double>& v) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double x : v) {
    if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
  }
  return {lo, hi};
}

size_t CountMissing(const std::vector<double>& v) {
  return static_cast<size_t>(std::count_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }));
}

std::string AxisLabel(char axis, const PlotData& d) {
  if (d.trajectory && d.trajectory->explained_variance_ratio) {
    const double r = (*d.trajectory->explained_variance_ratio)[axis == 'x' ? 0 : 1];
    return std::string(axis == 'x' ? "1st" : "2nd") + " PC: " + Fmt("%.2f", 100 * r) + " %";
  }
  return axis == 'x' ? "α  (x direction)" : "β  (y direction)";
}

// ---- colour bar ----------------------------------------------------------------

// A vertical colour bar right of the viewport. `values`: shade edges (kShade)
// or {min, max} (kImage / kGradient). `log`: the values are log10 of the data.
void ColourBar(PLINT kind, const std::vector<double>& values, const std::string& label, bool log, bool edge_labels) {
  PLFLT w = 0, h = 0;
  PLINT opt = kind | PL_COLORBAR_LABEL_RIGHT;
  if (edge_labels) opt |= PL_COLORBAR_SHADE_LABEL;
  const std::string escaped = EscapeText(label);
  const char* labels[] = {escaped.c_str()};
  PLINT label_opts[] = {PL_COLORBAR_LABEL_RIGHT};
  const std::string axis = log ? "bcvtml" : "bcvtm";
  const char* axis_opts[] = {axis.c_str()};
  PLFLT ticks[] = {0.0};   // automatic; must not be null (PLplot segfaults)
  PLINT sub_ticks[] = {0};
  PLINT n_values[] = {static_cast<PLINT>(values.size())};
  const PLFLT* vals[] = {values.data()};
  plschr(0, 0.85 * kTextScale);
  plsmaj(0, 0.5);
  plsmin(0, 0.5);
  plcol0(kBlack);
  plcolorbar(&w, &h, opt, PL_POSITION_RIGHT | PL_POSITION_OUTSIDE | PL_POSITION_VIEWPORT, 0.02, 0.0, 0.035, 1.0, 0,
             kBlack, 1, 0.0, 1.0, 0, 0.0, 1, label_opts, labels, 1, axis_opts, ticks, sub_ticks, n_values, vals);
  plschr(0, kTextScale);
  plsmaj(0, 1.0);
  plsmin(0, 1.0);
}

// ---- 2-D preparation -------------------------------------------------------------

struct Scale2d {
  std::vector<double> values;  // the metric, NaN where missing (raw, not log)
  double vmin = 0, vmax = 1;   // colour range (raw)
  std::vector<double> levels;  // raw
  std::string label;           // colour bar / axis label
  size_t missing = 0;
};

Result<Scale2d> Prepare2d(const io::Surface& s, const std::string& metric, const PlotOptions& o,
                          std::optional<std::pair<double, double>> default_range = std::nullopt) {
  Scale2d sc;
  LS_ASSIGN_OR_RETURN(sc.values, io::MetricValues(s, metric));
  sc.missing = CountMissing(sc.values);
  if (sc.missing == sc.values.size()) {
    return InvalidArgument("surface", "no finite value of " + metric + " to draw (" +
                                          std::to_string(s.DoneCount()) + " of " +
                                          std::to_string(s.PointCount()) + " points done)");
  }
  auto [lo, hi] = FiniteRange(sc.values);
  if (o.log) {
    double pos = std::numeric_limits<double>::infinity();
    for (double v : sc.values) {
      if (std::isfinite(v) && v > 0) pos = std::min(pos, v);
    }
    if (!std::isfinite(pos)) return InvalidArgument("--log", "a log scale needs positive values of " + metric);
    lo = std::max(lo, pos);
  }
  if (default_range) std::tie(lo, hi) = *default_range;
  sc.vmin = o.vmin.value_or(lo);
  sc.vmax = o.vmax.value_or(hi);
  if (!(std::isfinite(sc.vmin) && std::isfinite(sc.vmax))) return InvalidArgument("--vmin/--vmax", "must be finite");
  if (o.vmin && o.vmax && !(sc.vmin < sc.vmax)) return InvalidArgument("--vmin/--vmax", "need vmin < vmax");
  if (!(sc.vmin < sc.vmax)) {
    if (o.vmin || o.vmax) return InvalidArgument("--vmin/--vmax", "the range is empty for this surface's values");
    const double pad = sc.vmin == 0 ? 0.5 : std::fabs(sc.vmin) * 0.05;  // a flat surface
    sc.vmin -= pad;
    sc.vmax += pad;
  }
  if (o.log && sc.vmin <= 0) return InvalidArgument("--vmin", "a log scale needs vmin > 0");
  LS_ASSIGN_OR_RETURN(sc.levels, Levels(sc.vmin, sc.vmax, o.vlevel, o.log));
  sc.label = io::MetricDisplayName(metric);
  return sc;
}

// log10 where the scale is logarithmic; NaN stays NaN (and so do values <= 0).
double Tx(double v, bool log) { return log ? (v > 0 ? std::log10(v) : kNaN) : v; }

// Automatic contour lines are log-spaced when max/min of positive values exceeds this.
constexpr double kAutoLogRatio = 25.0;

void Viewport2d() { plvpor(0.10, 0.80, 0.14, 0.84); }

void Axes2d(const PlotData& d) {
  plcol0(kBlack);
  plwidth(1.0);
  plbox("bcnst", 0, 0, "bcnstv", 0, 0);
  pllab(EscapeText(AxisLabel('x', d)).c_str(), EscapeText(AxisLabel('y', d)).c_str(), "");
}

// Significant digits of the shortest decimal that writes `v` to 6 digits:
// 0.5 -> 1, 2.5 -> 2, 10 -> 2, 0.125 -> 3 (a contour label's digits).
int LabelDigits(double v) {
  if (v == 0 || !std::isfinite(v)) return 1;
  for (int d = 1; d <= 6; ++d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*g", d, v);
    if (std::fabs(std::strtod(buf, nullptr) - v) <= 1e-9 * std::fabs(v)) {
      // PLplot prints numbers >= 10 without an exponent only with enough digits.
      return std::max(d, static_cast<int>(std::floor(std::log10(std::fabs(v)))) + 1);
    }
  }
  return 6;
}

void ContourLines(const Matrix& m, size_t nx, size_t ny, Grid1* grid, const std::vector<double>& levels,
                  bool labelled, double width, std::optional<int> fixed_colour) {
  if (labelled) {
    pl_setcontlabelparam(0.008, 0.6, 0.25, 1);
  } else {
    pl_setcontlabelparam(0.008, 0.42, 0.25, 0);
  }
  plwidth(width);
  for (size_t i = 0; i < levels.size(); ++i) {
    if (fixed_colour) {
      plcol0(*fixed_colour);
    } else {
      plcol1(levels.size() > 1 ? static_cast<double>(i) / (levels.size() - 1) : 0.0);
    }
    const PLFLT level = levels[i];
    if (labelled) pl_setcontlabelformat(4, LabelDigits(level));
    plcont(m.get(), static_cast<PLINT>(nx), static_cast<PLINT>(ny), 1, static_cast<PLINT>(nx), 1,
           static_cast<PLINT>(ny), &level, 1, pltr1, grid->data());
  }
  pl_setcontlabelparam(0.008, 0.42, 0.25, 0);
  plwidth(1.0);
}

// plshades' `defined` callback takes no user data, so the mask of the picture
// being drawn lives here, set by DefinedMask while PlplotMutex() is held.
struct DefinedGrid {
  std::vector<double> x, y;   // the grid's coordinates
  std::vector<uint8_t> mask;  // [iy * nx + ix]: 1 where the value is finite
};
const DefinedGrid* g_defined = nullptr;

size_t NearestIndex(const std::vector<double>& c, double v) {
  const size_t i = static_cast<size_t>(std::lower_bound(c.begin(), c.end(), v) - c.begin());
  if (i == 0) return 0;
  if (i == c.size()) return c.size() - 1;
  return (v - c[i - 1] <= c[i] - v) ? i - 1 : i;
}

// PLplot calls it with world coordinates (after pltr1), also at points between
// grid nodes: the nearest node decides.
PLINT DefinedAt(PLFLT x, PLFLT y) {
  if (!g_defined) return 1;
  const size_t ix = NearestIndex(g_defined->x, x), iy = NearestIndex(g_defined->y, y);
  return g_defined->mask[iy * g_defined->x.size() + ix];
}

class DefinedMask {
 public:
  DefinedMask(const std::vector<double>& v, const std::vector<double>& x, const std::vector<double>& y) {
    grid_.x = x;
    grid_.y = y;
    grid_.mask.resize(v.size());
    for (size_t k = 0; k < v.size(); ++k) grid_.mask[k] = std::isfinite(v[k]) ? 1 : 0;
    g_defined = &grid_;
  }
  ~DefinedMask() { g_defined = nullptr; }
  DefinedMask(const DefinedMask&) = delete;
  DefinedMask& operator=(const DefinedMask&) = delete;

 private:
  DefinedGrid grid_;
};

// Gives missing points the mean of their finite 4-neighbours, repeatedly, so
// that PLplot's interpolation next to a hole (which the `defined` mask cuts out)
// does not run towards an arbitrary value.
void FillMissing(std::vector<double>* v, size_t nx, size_t ny) {
  std::vector<double>& z = *v;
  for (size_t pass = 0; pass < nx + ny; ++pass) {
    std::vector<double> next = z;
    bool missing = false;
    for (size_t iy = 0; iy < ny; ++iy) {
      for (size_t ix = 0; ix < nx; ++ix) {
        const size_t k = iy * nx + ix;
        if (std::isfinite(z[k])) continue;
        double sum = 0;
        int n = 0;
        auto take = [&](size_t j) {
          if (std::isfinite(z[j])) sum += z[j], ++n;
        };
        if (ix > 0) take(k - 1);
        if (ix + 1 < nx) take(k + 1);
        if (iy > 0) take(k - nx);
        if (iy + 1 < ny) take(k + nx);
        if (n > 0) {
          next[k] = sum / n;
        } else {
          missing = true;
        }
      }
    }
    z.swap(next);
    if (!missing) break;
  }
}

std::string MissingNote(size_t missing, size_t total) {
  if (missing == 0) return "";
  return "  (" + std::to_string(missing) + " of " + std::to_string(total) + " points missing)";
}

// The title (noting missing points) and the labels' footer.
void TitleAndFooter(const io::Surface& s, const std::string& metric, size_t missing, const PlotOptions& o) {
  auto lines = io::TitleLines(s, metric);
  lines[0] += MissingNote(missing, s.PointCount());
  Title(lines, o.title);
  Footer(s);
}

// ---- 2-D pictures -----------------------------------------------------------------

Result<Frame> DrawContour(Stream& st, const PlotData& d, const std::string& metric, const PlotOptions& o) {
  const io::Surface& s = *d.surface;
  LS_ASSIGN_OR_RETURN(Scale2d sc, Prepare2d(s, metric, o));
  const size_t nx = s.nx(), ny = s.ny();
  // Loss values often span decades (a basin below 1, walls at 40): then
  // automatic lines are 1-2-5 per decade, or the basin gets no line at all.
  if (!o.vlevel && !o.log && sc.vmin > 0 && sc.vmax / sc.vmin > kAutoLogRatio) {
    LS_ASSIGN_OR_RETURN(sc.levels, Levels(sc.vmin, sc.vmax, std::nullopt, true));
  }
  // Contours of raw values at raw levels: the same curves as log10 at log10 levels,
  // and the labels read in the data's units. Missing points stay NaN: plcont
  // finds no crossing next to them, so lines stop at the edge of the data.
  Matrix m(sc.values, nx, ny);
  Grid1 grid(s.x, s.y);
  Viewport2d();
  double x0 = s.x.front(), x1 = s.x.back(), y0 = s.y.front(), y1 = s.y.back();
  if (d.trajectory) {
    for (size_t i = 0; i < d.trajectory->x.size(); ++i) {
      x0 = std::min(x0, d.trajectory->x[i]), x1 = std::max(x1, d.trajectory->x[i]);
      y0 = std::min(y0, d.trajectory->y[i]), y1 = std::max(y1, d.trajectory->y[i]);
    }
    const double px = 0.03 * (x1 - x0), py = 0.03 * (y1 - y0);
    x0 -= px, x1 += px, y0 -= py, y1 += py;
  }
  plwind(x0, x1, y0, y1);
  SetColormap(Colormap::kViridis, 0.0, 0.85);
  ContourLines(m, nx, ny, &grid, sc.levels, true, 1.6, std::nullopt);
  if (d.trajectory) {
    // The reference's second set: logspace(1, 8, 8), for the high-loss region.
    std::vector<double> high;
    for (int k = 1; k <= 8; ++k) {
      const double v = std::pow(10.0, k);
      if (v > sc.levels.back()) high.push_back(v);
    }
    if (!high.empty()) ContourLines(m, nx, ny, &grid, high, true, 0.8, kGrey);
    const auto& t = *d.trajectory;
    plcol0(kRed);
    plwidth(2.0);
    plline(static_cast<PLINT>(t.x.size()), t.x.data(), t.y.data());
    plssym(0, 0.9);
    plpoin(static_cast<PLINT>(t.x.size()), t.x.data(), t.y.data(), 17);
    if (!t.x.empty()) {
      plssym(0, 1.3);
      plcol0(kBlack);
      plpoin(1, &t.x.front(), &t.y.front(), 4);  // start: a circle
      plpoin(1, &t.x.back(), &t.y.back(), 18);   // end (the final model): a star
      plschr(0, 0.8);
      plptex(t.x.front(), t.y.front(), 1, 0, -0.5, "start");
      plschr(0, kTextScale);
    }
    plssym(0, 1.0);
    plwidth(1.0);
  }
  Frame f = CurrentFrame(st);
  Axes2d(d);
  auto lines = io::TitleLines(s, metric);
  lines[0] += (o.log ? "  (log-spaced levels)" : "") + MissingNote(sc.missing, s.PointCount());
  if (d.trajectory) lines[0] = "training path  ·  " + lines[0];
  Title(lines, o.title);
  Footer(s);
  return f;
}

Result<Frame> DrawFilledOrHeat(Stream& st, const PlotData& d, const std::string& metric, const PlotOptions& o,
                               bool heat, std::optional<std::pair<double, double>> default_range) {
  const io::Surface& s = *d.surface;
  LS_ASSIGN_OR_RETURN(Scale2d sc, Prepare2d(s, metric, o, default_range));
  const size_t nx = s.nx(), ny = s.ny();
  const double lo = Tx(sc.vmin, o.log), hi = Tx(sc.vmax, o.log);
  std::vector<double> tv(sc.values.size());
  for (size_t k = 0; k < tv.size(); ++k) tv[k] = Tx(sc.values[k], o.log);
  SetColormap(Colormap::kViridis);
  Viewport2d();
  if (heat) {
    // One cell per grid point, centred on it; values clipped into the colour
    // range, missing cells left out (outside [zmin, zmax]).
    for (double& v : tv) v = std::isfinite(v) ? std::clamp(v, lo, hi) : -kHuge;
    const std::vector<double> ex = Edges(s.x), ey = Edges(s.y);
    Grid1 grid(ex, ey);
    plwind(ex.front(), ex.back(), ey.front(), ey.back());
    Matrix m(tv, nx, ny);
    plimagefr(m.get(), static_cast<PLINT>(nx), static_cast<PLINT>(ny), ex.front(), ex.back(), ey.front(),
              ey.back(), lo, hi, lo, hi, pltr1, grid.data());
    Frame f = CurrentFrame(st);
    Axes2d(d);
    ColourBar(PL_COLORBAR_IMAGE, {lo, hi}, sc.label + (o.log ? " (log scale)" : ""), o.log, false);
    TitleAndFooter(s, metric, sc.missing, o);
    return f;
  }
  std::vector<double> edges(sc.levels.size());
  for (size_t i = 0; i < edges.size(); ++i) edges[i] = Tx(sc.levels[i], o.log);
  // Every finite value lands in a band: the end bands take what lies beyond.
  // Cells with a missing corner are left unfilled (the `defined` mask).
  const DefinedMask mask(tv, s.x, s.y);
  FillMissing(&tv, nx, ny);
  for (double& v : tv) v = std::isfinite(v) ? std::clamp(v, edges.front(), edges.back()) : edges.front();
  Grid1 grid(s.x, s.y);
  plwind(s.x.front(), s.x.back(), s.y.front(), s.y.back());
  Matrix m(tv, nx, ny);
  // With pltr1, plshades maps [xmin, xmax] x [ymin, ymax] = index space.
  plshades(m.get(), static_cast<PLINT>(nx), static_cast<PLINT>(ny), DefinedAt, 0, static_cast<double>(nx - 1), 0,
           static_cast<double>(ny - 1), edges.data(), static_cast<PLINT>(edges.size()), 1.0, 0, 0.0, plfill, 0,
           pltr1, grid.data());
  Frame f = CurrentFrame(st);
  Axes2d(d);
  ColourBar(PL_COLORBAR_SHADE, edges, sc.label + (o.log ? " (log scale)" : ""), o.log, edges.size() <= 12);
  TitleAndFooter(s, metric, sc.missing, o);
  return f;
}

// Indices 0, k, 2k, ..., n - 1 with k chosen so that at most `max` remain.
std::vector<size_t> Stride(size_t n, size_t max) {
  std::vector<size_t> idx;
  const size_t k = n <= max ? 1 : (n - 2) / (max - 1) + 1;
  for (size_t i = 0; i < n; i += k) idx.push_back(i);
  if (idx.back() != n - 1) idx.push_back(n - 1);
  return idx;
}
constexpr size_t kMax3dSide = 151;

Result<Frame> Draw3d(Stream& st, const PlotData& d, const std::string& metric, const PlotOptions& o) {
  const io::Surface& s = *d.surface;
  LS_ASSIGN_OR_RETURN(Scale2d sc, Prepare2d(s, metric, o));
  const double lo = Tx(sc.vmin, o.log), hi = Tx(sc.vmax, o.log);
  // Every k-th row and column (ends kept) above kMax3dSide points a side: a
  // 3-D mesh finer than the pixels only costs time.
  const std::vector<size_t> cols = Stride(s.nx(), kMax3dSide), rows = Stride(s.ny(), kMax3dSide);
  const size_t nx = cols.size(), ny = rows.size();
  std::vector<double> xs(nx), ys(ny), tv(nx * ny);
  for (size_t i = 0; i < nx; ++i) xs[i] = s.x[cols[i]];
  for (size_t j = 0; j < ny; ++j) ys[j] = s.y[rows[j]];
  // Clipped into [vmin, vmax] so one outlier cannot flatten the picture. Each
  // column is drawn over its span of finite values (a partial surface shows
  // what is done); a missing point inside a span is drawn at the top of the box.
  std::vector<PLINT> ymin(nx, 0), ymax(nx, 0);
  PLINT xfirst = -1, xlast = -1;
  for (size_t i = 0; i < nx; ++i) {
    PLINT first = -1, last = -1;
    for (size_t j = 0; j < ny; ++j) {
      const double v = Tx(sc.values[rows[j] * s.nx() + cols[i]], o.log);
      tv[j * nx + i] = std::isfinite(v) ? std::clamp(v, lo, hi) : hi;
      if (std::isfinite(v)) {
        if (first < 0) first = static_cast<PLINT>(j);
        last = static_cast<PLINT>(j);
      }
    }
    if (first >= 0) {
      ymin[i] = first;
      ymax[i] = last + 1;
      if (xfirst < 0) xfirst = static_cast<PLINT>(i);
      xlast = static_cast<PLINT>(i);
    }
  }
  if (xfirst < 0 || xlast - xfirst < 1) return InvalidArgument("surface", "too few finite values for a 3-D picture");
  for (PLINT i = xfirst; i <= xlast; ++i) {
    if (ymax[i] == 0) ymin[i] = ymax[i] = 0;  // an empty column inside: nothing drawn there
  }
  Matrix m(tv, nx, ny);
  SetColormap(Colormap::kCoolwarm);
  plvpor(0.02, 0.84, 0.06, 0.84);
  plwind(-0.95, 0.95, -0.8, 1.4);
  Frame f = CurrentFrame(st);
  plw3d(1.0, 1.0, 1.05, s.x.front(), s.x.back(), s.y.front(), s.y.back(), lo, hi, 28, -60);
  plcol0(kBlack);
  plschr(0, 0.9 * kTextScale);
  const std::string zlabel = EscapeText(sc.label + (o.log ? " (log10)" : ""));
  plbox3("bnstu", "α", 0, 0, "bnstu", "β", 0, 0, "cdmstv", zlabel.c_str(), 0, 4);  // PLplot rotates left-hand z numbers
  plschr(0, kTextScale);
  // Facet lines only where they do not turn the surface grey.
  const PLINT opt = MAG_COLOR | (nx <= 31 && ny <= 31 ? FACETED : 0);
  plwidth(0.3);
  plsurf3dl(xs.data(), ys.data(), m.get(), static_cast<PLINT>(nx), static_cast<PLINT>(ny), opt, nullptr, 0, xfirst,
            xlast + 1, ymin.data(), ymax.data());
  plwidth(1.0);
  // PLplot's 3-D box works in the -1..1 window; put the colour bar next to the viewport.
  ColourBar(PL_COLORBAR_GRADIENT, {lo, hi}, sc.label + (o.log ? " (log scale)" : ""), o.log, false);
  TitleAndFooter(s, metric, sc.missing, o);
  return f;
}

// ---- 1-D pictures -----------------------------------------------------------------

struct Series {
  const io::Surface* s;
  std::string label;
  int colour;
};

// A polyline that skips missing points (one plline per finite run).
void Polyline(const std::vector<double>& x, const std::vector<double>& y) {
  size_t i = 0;
  while (i < y.size()) {
    while (i < y.size() && !std::isfinite(y[i])) ++i;
    size_t j = i;
    while (j < y.size() && std::isfinite(y[j])) ++j;
    if (j - i >= 2) plline(static_cast<PLINT>(j - i), x.data() + i, y.data() + i);
    if (j - i == 1) plpoin(1, x.data() + i, y.data() + i, 17);
    i = j;
  }
}

// The inside corner where a legend box of (w, h) (fractions of the viewport)
// hides the fewest curve points; curves in viewport fractions.
PLINT LegendPosition(const std::vector<std::pair<double, double>>& pts, double w, double h) {
  struct Candidate {
    PLINT pos;
    double x0, y0;
  };
  const Candidate cands[] = {
      {PL_POSITION_TOP | PL_POSITION_RIGHT, 1 - w, 1 - h}, {PL_POSITION_TOP | PL_POSITION_LEFT, 0, 1 - h},
      {PL_POSITION_BOTTOM | PL_POSITION_RIGHT, 1 - w, 0},  {PL_POSITION_BOTTOM | PL_POSITION_LEFT, 0, 0},
      {PL_POSITION_TOP, 0.5 - w / 2, 1 - h},               {PL_POSITION_BOTTOM, 0.5 - w / 2, 0}};
  PLINT best = cands[0].pos;
  size_t best_hidden = std::numeric_limits<size_t>::max();
  for (const auto& c : cands) {
    size_t hidden = 0;
    for (const auto& [px, py] : pts) {
      hidden += (px >= c.x0 && px <= c.x0 + w && py >= c.y0 && py <= c.y0 + h) ? 1 : 0;
    }
    if (hidden < best_hidden) best_hidden = hidden, best = c.pos;
  }
  return best;
}

struct LegendEntry {
  std::string text;
  int colour;
  int style;  // pllsty: 1 solid, 2 dashed
  double width;
  bool marker;
};

// The legend inside the viewport at `position`, on a translucent background
// so that a curve under it still shows.
void Legend(const std::vector<LegendEntry>& entries, PLINT position) {
  const size_t n = entries.size();
  std::vector<std::string> texts(n);
  std::vector<const char*> text_ptrs(n);
  std::vector<PLINT> opts(n), colours(n), styles(n), text_colours(n, kBlack), sym_colours(n), sym_numbers(n, 2);
  std::vector<PLFLT> widths(n), sym_scales(n, 0.9);
  std::vector<const char*> symbols(n, "•");
  for (size_t i = 0; i < n; ++i) {
    texts[i] = EscapeText(entries[i].text);
    text_ptrs[i] = texts[i].c_str();
    opts[i] = PL_LEGEND_LINE | (entries[i].marker ? PL_LEGEND_SYMBOL : 0);
    colours[i] = entries[i].colour;
    sym_colours[i] = entries[i].colour;
    styles[i] = entries[i].style;
    widths[i] = entries[i].width;
  }
  PLFLT w = 0, h = 0;
  plschr(0, 0.8 * kTextScale);
  pllegend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, position | PL_POSITION_INSIDE | PL_POSITION_VIEWPORT,
           0.02, 0.03, 0.08, kLegendBackground, kGrey, 1, 0, 0, static_cast<PLINT>(n), opts.data(), 1.0, 1.0, 1.8, 0.0,
           text_colours.data(), text_ptrs.data(), nullptr, nullptr, nullptr, nullptr, colours.data(), styles.data(),
           widths.data(), sym_colours.data(), sym_scales.data(), sym_numbers.data(), symbols.data());
  plschr(0, kTextScale);
}

Result<Frame> DrawCurves(Stream& st, const PlotData& d, const PlotOptions& o) {
  std::vector<Series> series{{d.surface, d.label, 0}};
  for (size_t i = 0; i < d.overlays.size(); ++i) {
    if (!d.overlays[i].surface) return InvalidArgument("--overlay", "missing surface");
    if (d.overlays[i].surface->is_2d()) {
      return InvalidArgument("--overlay", "'" + d.overlays[i].label + "' is a 2-D surface; overlays are 1-D");
    }
    series.push_back({d.overlays[i].surface, d.overlays[i].label, static_cast<int>(i + 1)});
  }
  const bool many = series.size() > 1;
  const bool single = !o.metric.empty();
  struct Curve {
    const std::vector<double>* x;
    std::vector<double> y;
    int colour;
    int style;
    bool acc;
  };
  std::vector<Curve> curves;
  std::vector<LegendEntry> legend;
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo;
  double llo = xlo, lhi = -xlo;
  bool any_loss = false, any_acc = false;
  for (const Series& ser : series) {
    const io::Surface& s = *ser.s;
    xlo = std::min(xlo, s.x.front()), xhi = std::max(xhi, s.x.back());
    const int loss_colour = many ? LineColour(ser.colour) : kBlue;
    const int acc_colour = many ? LineColour(ser.colour) : kRed;
    bool drew = false;
    // Default: train/test loss (left axis) and accuracy (right axis); with
    // --metric, that one metric on the left axis.
    std::vector<std::string> names;
    if (single) {
      names = {o.metric};
    } else {
      names = {"train_loss", "train_acc", "test_loss", "test_acc"};
    }
    for (const std::string& m : names) {
      if (!single && !s.Has(m)) continue;
      LS_ASSIGN_OR_RETURN(auto v, io::MetricValues(s, m));
      const bool acc = !single && m.size() > 4 && m.compare(m.size() - 4, 4, "_acc") == 0;
      const bool test = m.rfind("test_", 0) == 0;
      const int style = test ? 2 : 1;
      if (!acc) {
        if (o.log) {
          for (double& y : v) y = Tx(y, true);
        }
        auto [a, b] = FiniteRange(v);
        if (std::isfinite(a)) llo = std::min(llo, a), lhi = std::max(lhi, b);
        any_loss = true;
      } else {
        any_acc = true;
      }
      curves.push_back({&s.x, std::move(v), acc ? acc_colour : loss_colour, style, acc});
      if (!many) {
        const std::string text = single ? io::MetricDisplayName(m)
                                        : std::string(test ? "test" : "train") + (acc ? " accuracy" : " loss");
        legend.push_back({text, acc ? acc_colour : loss_colour, style, acc ? 1.5 : 2.0, false});
      }
      drew = true;
    }
    if (!drew) {
      return InvalidArgument("--kind", "'" + ser.label + "' has no loss or accuracy to draw (it has: " +
                                           [&] {
                                             std::string t;
                                             for (const auto& n : s.metric_names) t += (t.empty() ? "" : ", ") + n;
                                             return t;
                                           }() +
                                           ")");
    }
    if (many) legend.push_back({ser.label, LineColour(ser.colour), 1, 2.5, false});
  }
  if (many && !single) {
    legend.push_back({"train: solid  ·  test: dashed", kBlack, 1, 1.0, false});
    legend.push_back({"accuracy: thin line with dots", kBlack, 1, 0.8, true});
  }
  // Loss axis: [0, max] as the reference (log: whole decades), unless given.
  double y0, y1;
  if (!any_loss) {
    y0 = 0, y1 = 1;
  } else if (o.log) {
    if (!std::isfinite(llo)) return InvalidArgument("--log", "a log scale needs positive loss values");
    y0 = o.vmin ? Tx(*o.vmin, true) : std::floor(llo);
    y1 = o.vmax ? Tx(*o.vmax, true) : std::ceil(lhi + 1e-12);
    if (!std::isfinite(y0) || !std::isfinite(y1)) return InvalidArgument("--vmin/--vmax", "a log scale needs > 0");
  } else {
    y0 = o.vmin.value_or(std::min(0.0, llo));
    y1 = o.vmax.value_or(lhi > y0 ? y0 + (lhi - y0) * 1.05 : y0 + 1);
  }
  if (!(y0 < y1)) return InvalidArgument("--vmin/--vmax", "need vmin < vmax");
  if (!(xlo < xhi)) xlo -= 0.5, xhi += 0.5;

  plvpor(0.10, 0.88, 0.14, 0.84);
  plwind(xlo, xhi, y0, y1);
  Frame f = CurrentFrame(st);
  std::vector<std::pair<double, double>> pts;  // curve samples in viewport fractions, for the legend
  for (const Curve& c : curves) {
    const double a0 = c.acc ? 0.0 : y0, a1 = c.acc ? 100.0 : y1;
    for (size_t i = 0; i < c.y.size(); ++i) {
      if (std::isfinite(c.y[i])) pts.emplace_back(((*c.x)[i] - xlo) / (xhi - xlo), (c.y[i] - a0) / (a1 - a0));
    }
  }
  for (const Curve& c : curves) {
    plwind(xlo, xhi, c.acc ? 0.0 : y0, c.acc ? 100.0 : y1);
    plcol0(c.colour);
    pllsty(c.style);
    plwidth(c.acc ? (many ? 1.0 : 1.5) : 2.0);
    Polyline(*c.x, c.y);
    if (c.acc && many) {
      plssym(0, 0.5);
      for (size_t i = 0; i < c.y.size(); i += std::max<size_t>(1, c.y.size() / 20)) {
        if (std::isfinite(c.y[i])) plpoin(1, &(*c.x)[i], &c.y[i], 17);
      }
      plssym(0, 1.0);
    }
  }
  pllsty(1);
  plwidth(1.0);
  // Axes: loss on the left (blue), accuracy on the right (red), as the reference.
  plwind(xlo, xhi, y0, y1);
  plcol0(kBlack);
  plbox("bcnst", 0, 0, "", 0, 0);
  plcol0(many ? kBlack : kBlue);
  plbox("", 0, 0, o.log ? "bnstvl" : "bnstv", 0, 0);
  const std::string left = single ? io::MetricDisplayName(o.metric) : std::string("loss");
  plmtex("l", 4.0, 0.5, 0.5, EscapeText(any_loss ? (o.log ? left + " (log scale)" : left) : "").c_str());
  if (any_acc) {
    plwind(xlo, xhi, 0, 100);
    plcol0(many ? kBlack : kRed);
    plbox("", 0, 0, "cmstv", 0, 0);
    plmtex("r", 4.0, 0.5, 0.5, "accuracy (%)");
  } else {
    plcol0(kBlack);
    plbox("", 0, 0, o.log ? "cstl" : "cst", 0, 0);  // the frame's right edge
  }
  plwind(xlo, xhi, y0, y1);
  plcol0(kBlack);
  plmtex("b", 3.0, 0.5, 0.5, "α  (x direction)");
  Legend(legend, LegendPosition(pts, many ? 0.42 : 0.30, 0.06 * static_cast<double>(legend.size()) + 0.03));
  auto lines = io::TitleLines(*d.surface, io::PrimaryMetric(*d.surface));
  if (many) {
    // The surfaces differ (directions, models): describe only what the first says of data and grid.
    const io::SurfaceDescription desc = io::DescribeSurface(*d.surface);
    lines[1] = desc.data.empty() ? desc.grid : desc.data + "  ·  " + desc.grid;
    lines[0] = std::to_string(series.size()) + " surfaces  ·  " +
               (single ? io::MetricDisplayName(o.metric) : std::string("loss and accuracy"));
  } else {
    lines[0] = (lines[0].find("  ·  ") != std::string::npos ? lines[0].substr(0, lines[0].find("  ·  ")) + "  ·  "
                                                            : std::string()) +
               (single ? io::MetricDisplayName(o.metric) : std::string("loss and accuracy"));
  }
  Title(lines, o.title);
  Footer(*d.surface);
  return f;
}

Result<Frame> DrawHessian1d(Stream& st, const PlotData& d, const PlotOptions& o) {
  const io::Surface& s = *d.surface;
  LS_ASSIGN_OR_RETURN(auto ratio, io::MetricValues(s, "eig_ratio"));
  LS_ASSIGN_OR_RETURN(auto lmin, io::MetricValues(s, "min_eig"));
  LS_ASSIGN_OR_RETURN(auto lmax, io::MetricValues(s, "max_eig"));
  std::vector<double> raw(lmin.size());
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = lmin[i] / lmax[i];
  auto [rlo, rhi] = FiniteRange(raw);
  auto [alo, ahi] = FiniteRange(ratio);
  if (!std::isfinite(alo)) return InvalidArgument("surface", "no finite eigenvalue ratio to draw");
  const double y0 = o.vmin.value_or(std::min(0.0, rlo));
  const double y1 = o.vmax.value_or(std::max({0.1, ahi, rhi}) * 1.05);
  if (!(y0 < y1)) return InvalidArgument("--vmin/--vmax", "need vmin < vmax");
  double x0 = s.x.front(), x1 = s.x.back();
  if (!(x0 < x1)) x0 -= 0.5, x1 += 0.5;
  plvpor(0.10, 0.88, 0.14, 0.84);
  plwind(x0, x1, y0, y1);
  Frame f = CurrentFrame(st);
  plcol0(kGrey);
  const double zero_x[] = {x0, x1}, zero_y[] = {0, 0};
  if (y0 < 0) plline(2, zero_x, zero_y);
  plcol0(kBlue);
  plwidth(2.0);
  Polyline(s.x, ratio);
  plcol0(kRed);
  pllsty(2);
  Polyline(s.x, raw);
  pllsty(1);
  plwidth(1.0);
  plcol0(kBlack);
  plbox("bcnst", 0, 0, "bcnstv", 0, 0);
  pllab("α  (x direction)", "eigenvalue ratio", "");
  std::vector<std::pair<double, double>> pts;
  for (size_t i = 0; i < raw.size(); ++i) {
    for (double v : {ratio[i], raw[i]}) {
      if (std::isfinite(v)) pts.emplace_back((s.x[i] - x0) / (x1 - x0), (v - y0) / (y1 - y0));
    }
  }
  Legend({{"|λmin / λmax|", kBlue, 1, 2.0, false}, {"λmin / λmax", kRed, 2, 2.0, false}},
         LegendPosition(pts, 0.3, 0.15));
  auto lines = io::TitleLines(s, "eig_ratio");
  Title(lines, o.title);
  Footer(s);
  return f;
}

}  // namespace

// ---- public --------------------------------------------------------------------------

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kContour: return "contour";
    case Kind::kFilled: return "filled";
    case Kind::kHeat: return "heat";
    case Kind::kSurface3d: return "3d";
    case Kind::kCurve1d: return "1d";
    case Kind::kTrajectory: return "trajectory";
    case Kind::kHessian: return "hessian";
  }
  return "?";
}

Result<Kind> ParseKind(std::string_view name, std::string_view field) {
  for (Kind k : {Kind::kContour, Kind::kFilled, Kind::kHeat, Kind::kSurface3d, Kind::kCurve1d, Kind::kTrajectory,
                 Kind::kHessian}) {
    if (name == KindName(k)) return k;
  }
  return InvalidArgument(std::string(field), "unknown picture kind '" + std::string(name) +
                                                 "' (contour, filled, heat, 3d, 1d, trajectory, hessian, all)");
}

std::vector<Kind> AllKinds(const io::Surface& s) {
  std::vector<Kind> kinds;
  if (s.is_2d()) {
    kinds = {Kind::kContour, Kind::kFilled, Kind::kHeat, Kind::kSurface3d};
  } else {
    kinds = {Kind::kCurve1d};
  }
  if (s.Has("min_eig") && s.Has("max_eig")) kinds.push_back(Kind::kHessian);
  return kinds;
}

Status CheckKind(Kind kind, const io::Surface& s) {
  switch (kind) {
    case Kind::kContour:
    case Kind::kFilled:
    case Kind::kHeat:
    case Kind::kSurface3d:
    case Kind::kTrajectory:
      if (!s.is_2d()) {
        return InvalidArgument("--kind", std::string("'") + KindName(kind) +
                                             "' needs a 2-D surface; this one is 1-D (draw '1d')");
      }
      if (s.nx() < 2 || s.ny() < 2) {
        return InvalidArgument("--kind", std::string("'") + KindName(kind) +
                                             "' needs at least 2 points along x and along y");
      }
      if (!(s.x.front() < s.x.back() && s.y.front() < s.y.back())) {
        return InvalidArgument("surface", "the coordinates must increase along x and along y");
      }
      return Status::Ok();
    case Kind::kCurve1d:
      if (s.is_2d()) return InvalidArgument("--kind", "'1d' needs a 1-D surface; this one is 2-D");
      return Status::Ok();
    case Kind::kHessian:
      if (!(s.Has("min_eig") && s.Has("max_eig"))) {
        return InvalidArgument("--kind", "'hessian' needs min_eig and max_eig (compute them with --hessian)");
      }
      return Status::Ok();
  }
  return Status::Ok();
}

Result<Format> FormatForPath(const std::string& path) {
  const size_t dot = path.rfind('.');
  std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == "png") return Format::kPng;
  if (ext == "svg") return Format::kSvg;
  if (ext == "pdf") return Format::kPdf;
  return InvalidArgument("--out", "'" + path + "': the picture's name must end in .png, .svg or .pdf");
}

Result<std::vector<double>> Levels(double vmin, double vmax, std::optional<double> vlevel, bool log) {
  constexpr size_t kMaxLevels = 500;
  if (!(std::isfinite(vmin) && std::isfinite(vmax)) || !(vmin < vmax)) {
    return InvalidArgument("--vmin/--vmax", "need finite vmin < vmax (got " + Fmt("%g", vmin) + ", " +
                                                Fmt("%g", vmax) + ")");
  }
  std::vector<double> levels;
  if (vlevel) {
    if (!(std::isfinite(*vlevel) && *vlevel > 0)) return InvalidArgument("--vlevel", "must be a number > 0");
    // numpy.arange(vmin, vmax, vlevel): ceil((vmax - vmin) / vlevel) values, vmax excluded.
    const double n = std::ceil((vmax - vmin) / *vlevel);
    if (n > static_cast<double>(kMaxLevels)) {
      return InvalidArgument("--vlevel", "arange(" + Fmt("%g", vmin) + ", " + Fmt("%g", vmax) + ", " +
                                             Fmt("%g", *vlevel) + ") gives " + Fmt("%.0f", n) +
                                             " levels; at most 500");
    }
    for (int i = 0; i < static_cast<int>(n); ++i) levels.push_back(vmin + i * *vlevel);
    if (levels.size() < 2) levels.push_back(vmin + *vlevel);  // one band needs two edges
    return levels;
  }
  if (log) {
    if (vmin <= 0) return InvalidArgument("--vmin", "a log scale needs vmin > 0");
    const int k0 = static_cast<int>(std::floor(std::log10(vmin))) - 1;
    const int k1 = static_cast<int>(std::ceil(std::log10(vmax))) + 1;
    // 1-2-5 per decade if that gives 8..16 lines, else the finer or the coarser
    // set, whichever count is nearest 12.
    std::vector<double> best;
    for (const std::vector<double>& mant :
         {std::vector<double>{1, 2, 5}, std::vector<double>{1, 1.5, 2, 3, 5, 7}, std::vector<double>{1}}) {
      std::vector<double> all;
      for (int k = k0; k <= k1; ++k) {
        for (double m : mant) all.push_back(m * std::pow(10.0, k));
      }
      // From the last value <= vmin to the first >= vmax.
      size_t a = 0, b = all.size() - 1;
      for (size_t i = 0; i < all.size(); ++i) {
        if (all[i] <= vmin * (1 + 1e-12)) a = i;
      }
      for (size_t i = all.size(); i-- > 0;) {
        if (all[i] >= vmax * (1 - 1e-12)) b = i;
      }
      levels.assign(all.begin() + static_cast<long>(a), all.begin() + static_cast<long>(b) + 1);
      if (levels.size() >= 8 && levels.size() <= 16) return levels;
      auto distance = [](size_t n) { return n > 12 ? n - 12 : 12 - n; };
      if (levels.size() <= kMaxLevels && (best.empty() || distance(levels.size()) < distance(best.size()))) {
        best = levels;
      }
    }
    if (!best.empty()) return best;
    // A very wide range: whole decades, at most kMaxLevels.
    levels.clear();
    for (int k = k0 + 1; k < k1 && levels.size() < kMaxLevels; ++k) levels.push_back(std::pow(10.0, k));
    return levels;
  }
  // Linear: a round step giving about 16 levels, from below vmin to above vmax.
  const double raw = (vmax - vmin) / 16.0;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * p;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (m * p >= raw) {
      step = m * p;
      break;
    }
  }
  const double first = std::floor(vmin / step + 1e-9) * step;
  const double last = std::ceil(vmax / step - 1e-9) * step;
  for (int i = 0;; ++i) {
    double v = first + i * step;
    if (std::fabs(v) < step * 1e-9) v = 0;  // no "-1.4e-17" labels
    levels.push_back(v);
    if (v >= last - step * 1e-9 || levels.size() >= kMaxLevels) break;
  }
  return levels;
}

Result<Frame> Draw(const PlotData& data, Kind kind, const PlotOptions& opts, const std::string& out_path) {
  if (!data.surface) return InvalidArgument("surface", "no surface to draw");
  const io::Surface& s = *data.surface;
  LS_RETURN_IF_ERROR(CheckKind(kind, s));
  if (kind == Kind::kTrajectory) {
    if (!data.trajectory) return InvalidArgument("--proj-file", "'trajectory' needs a projection file");
    if (data.trajectory->x.size() != data.trajectory->y.size() || data.trajectory->x.empty()) {
      return InvalidArgument("--proj-file", "the projected path is empty or its x and y differ in length");
    }
  }
  if (!data.overlays.empty() && kind != Kind::kCurve1d) {
    return InvalidArgument("--overlay", "overlays apply to 1-D pictures (--kind 1d) only");
  }
  LS_ASSIGN_OR_RETURN(Format format, FormatForPath(out_path));
  std::string metric = opts.metric.empty() ? io::PrimaryMetric(s) : opts.metric;
  if (metric.empty()) return InvalidArgument("surface", "the surface has no metric to draw");
  if (kind == Kind::kHessian) metric = "eig_ratio";
  // Fail on a bad metric before creating any file.
  if (kind != Kind::kCurve1d || !opts.metric.empty()) LS_RETURN_IF_ERROR(io::MetricValues(s, metric).status());

  std::lock_guard<std::mutex> lock(PlplotMutex());
  LS_ASSIGN_OR_RETURN(auto stream, Stream::Open(out_path, format, opts.width, opts.height));
  SetPalette();
  plschr(0, kTextScale);
  plfontld(1);
  Result<Frame> frame = Status(core::StatusCode::kInternal, "unreachable");
  switch (kind) {
    case Kind::kContour:
    case Kind::kTrajectory: frame = DrawContour(*stream, data, metric, opts); break;
    case Kind::kFilled: frame = DrawFilledOrHeat(*stream, data, metric, opts, false, std::nullopt); break;
    case Kind::kHeat: frame = DrawFilledOrHeat(*stream, data, metric, opts, true, std::nullopt); break;
    case Kind::kSurface3d: frame = Draw3d(*stream, data, metric, opts); break;
    case Kind::kCurve1d: frame = DrawCurves(*stream, data, opts); break;
    case Kind::kHessian:
      if (s.is_2d()) {
        // The reference's map: viridis over 0..0.5.
        frame = DrawFilledOrHeat(*stream, data, metric, opts, true, std::make_pair(0.0, 0.5));
      } else {
        frame = DrawHessian1d(*stream, data, opts);
      }
      break;
  }
  if (!frame.ok()) return frame.status();  // the stream's destructor removes the partial file
  LS_RETURN_IF_ERROR(stream->Finish());
  return frame;
}

}  // namespace landscape::plot
