// The 2-D pictures: contour lines (and the training path over them), filled
// contours, heat maps, 3-D surfaces.
#include "draw.h"

#include <plplot.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <tuple>

#include "colormaps.h"
#include "furniture.h"
#include "landscape/io/surface_views.h"

namespace landscape::plot::internal {

using core::InvalidArgument;
using core::Result;

namespace {

constexpr double kHuge = 1e300;  // a heat-map cell outside [zmin, zmax]: not drawn

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

std::string AxisLabel(char axis, const PlotData& d) {
  if (d.trajectory && d.trajectory->explained_variance_ratio) {
    const double r = (*d.trajectory->explained_variance_ratio)[axis == 'x' ? 0 : 1];
    return std::string(axis == 'x' ? "1st" : "2nd") + " PC: " + Fmt("%.2f", 100 * r) + " %";
  }
  return axis == 'x' ? "α  (x direction)" : "β  (y direction)";
}

struct Scale2d {
  std::vector<double> values;  // the metric, NaN where missing (raw, not log)
  double vmin = 0, vmax = 1;   // colour range (raw)
  std::vector<double> levels;  // raw
  std::string label;           // colour bar / axis label
  size_t missing = 0;
  bool log = false;            // colours and levels on a log scale (o.scale, or AutoLogScale)
};

// Whether a 2-D picture uses a log scale: --scale, else AutoLogScale over the
// colour range (linear under the reference's arange levels or a fixed range).
bool UseLog(const std::vector<double>& values, const PlotOptions& o, bool fixed_range) {
  if (o.scale != Scale::kAuto) return o.scale == Scale::kLog;
  if (o.vlevel || fixed_range) return false;
  std::optional<std::pair<double, double>> range;
  if (o.vmin || o.vmax) {
    const auto [lo, hi] = FiniteRange(values);
    range = std::make_pair(o.vmin.value_or(lo), o.vmax.value_or(hi));
  }
  return AutoLogScale(values, range);
}

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
  sc.log = UseLog(sc.values, o, default_range.has_value());
  if (sc.log) {
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
  if (sc.log && sc.vmin <= 0) return InvalidArgument("--log", "a log scale needs vmin > 0");
  LS_ASSIGN_OR_RETURN(sc.levels, Levels(sc.vmin, sc.vmax, o.vlevel, sc.log));
  sc.label = io::MetricDisplayName(metric);
  return sc;
}

void Viewport2d() { plvpor(0.12, 0.80, 0.14, 0.84); }  // the y label stays 3 % clear of the page edge

void Axes2d(const PlotData& d) {
  plcol0(kBlack);
  plwidth(1.0);
  plbox("bcnst", 0, 0, "bcnstv", 0, 0);
  const std::string x = Written(AxisLabel('x', d)), y = Written(AxisLabel('y', d));
  pllab(x.c_str(), y.c_str(), "");
}

// Contour labels are written in exponential notation from this decimal exponent on.
constexpr int kLabelExponent = 5;

// Significant digits of the shortest decimal that writes `v` to 6 digits:
// 0.5 -> 1, 2.5 -> 2, 10 -> 2, 0.125 -> 3, 1e6 -> 1 (written 1·10⁶) (a contour label's digits).
int LabelDigits(double v) {
  if (v == 0 || !std::isfinite(v)) return 1;
  const int exponent = static_cast<int>(std::floor(std::log10(std::fabs(v))));
  for (int d = 1; d <= 6; ++d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*g", d, v);
    if (std::fabs(std::strtod(buf, nullptr) - v) <= 1e-9 * std::fabs(v)) {
      // In exponential notation the digits are the mantissa's; otherwise PLplot
      // prints numbers >= 10 without an exponent only with enough digits.
      return std::abs(exponent) >= kLabelExponent ? d : std::max(d, exponent + 1);
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
    if (labelled) pl_setcontlabelformat(kLabelExponent, LabelDigits(level));
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

}  // namespace

namespace {
// The projected path: red line and dots, a circle at the start, a star at the end (the final model).
void DrawPath(const Trajectory& t) {
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
    plptex(t.x.front(), t.y.front(), 1, 0, -0.5, Written("start").c_str());
    plschr(0, kTextScale);
  }
  plssym(0, 1.0);
  plwidth(1.0);
}
}  // namespace

Result<Frame> DrawPathOnly(Stream& st, const PlotData& d, const PlotOptions& o) {
  const Trajectory& t = *d.trajectory;
  double x0 = *std::min_element(t.x.begin(), t.x.end()), x1 = *std::max_element(t.x.begin(), t.x.end());
  double y0 = *std::min_element(t.y.begin(), t.y.end()), y1 = *std::max_element(t.y.begin(), t.y.end());
  // 5 % margins; a path without extent along an axis gets a unit one around it.
  const double px = x1 > x0 ? 0.05 * (x1 - x0) : 0.5, py = y1 > y0 ? 0.05 * (y1 - y0) : 0.5;
  Viewport2d();
  plwind(x0 - px, x1 + px, y0 - py, y1 + py);
  DrawPath(t);
  Frame f = CurrentFrame(st);
  Axes2d(d);
  Title({"training path", std::to_string(t.x.size()) + " checkpoints projected onto the plane of the directions"},
        o.title);
  return f;
}

Result<Frame> DrawContour(Stream& st, const PlotData& d, const std::string& metric, const PlotOptions& o) {
  const io::Surface& s = *d.surface;
  LS_ASSIGN_OR_RETURN(Scale2d sc, Prepare2d(s, metric, o));
  const size_t nx = s.nx(), ny = s.ny();
  // Loss values often span decades (a basin below 1, walls at 40): then the
  // automatic scale spaces lines 1-2-5 per decade, or the basin gets no line.
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
    DrawPath(*d.trajectory);
  }
  Frame f = CurrentFrame(st);
  f.log_scale = sc.log;
  f.levels = sc.levels;
  Axes2d(d);
  auto lines = io::TitleLines(s, metric);
  lines[0] += MissingNote(sc.missing, s.PointCount());
  if (d.trajectory) lines[0] = "training path  ·  " + lines[0];
  Title(lines, o.title);
  Footer(s, ScaleNote(sc.log, o, sc.vmin, sc.vmax).replace(0, 7, "levels"));
  return f;
}

Result<Frame> DrawFilledOrHeat(Stream& st, const PlotData& d, const std::string& metric, const PlotOptions& o,
                               bool heat, std::optional<std::pair<double, double>> default_range) {
  const io::Surface& s = *d.surface;
  LS_ASSIGN_OR_RETURN(Scale2d sc, Prepare2d(s, metric, o, default_range));
  const size_t nx = s.nx(), ny = s.ny();
  const double lo = Tx(sc.vmin, sc.log), hi = Tx(sc.vmax, sc.log);
  const std::string note = ScaleNote(sc.log, o, sc.vmin, sc.vmax);
  std::vector<double> tv(sc.values.size());
  for (size_t k = 0; k < tv.size(); ++k) tv[k] = Tx(sc.values[k], sc.log);
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
    f.log_scale = sc.log;
    Axes2d(d);
    ColourBar(PL_COLORBAR_IMAGE, {lo, hi}, sc.label + (sc.log ? " (log scale)" : ""), sc.log, false);
    TitleAndFooter(s, metric, sc.missing, o, note);
    return f;
  }
  std::vector<double> edges(sc.levels.size());
  for (size_t i = 0; i < edges.size(); ++i) edges[i] = Tx(sc.levels[i], sc.log);
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
  f.log_scale = sc.log;
  f.levels = sc.levels;
  Axes2d(d);
  ColourBar(PL_COLORBAR_SHADE, edges, sc.label + (sc.log ? " (log scale)" : ""), sc.log, edges.size() <= 12);
  TitleAndFooter(s, metric, sc.missing, o, note);
  return f;
}

namespace {

// Indices 0, k, 2k, ..., n - 1 with k chosen so that at most `max` remain.
std::vector<size_t> Stride(size_t n, size_t max) {
  std::vector<size_t> idx;
  const size_t k = n <= max ? 1 : (n - 2) / (max - 1) + 1;
  for (size_t i = 0; i < n; i += k) idx.push_back(i);
  if (idx.back() != n - 1) idx.push_back(n - 1);
  return idx;
}
constexpr size_t kMax3dSide = 151;

// The view of the 3-D pictures (PLplot's plw3d): altitude and azimuth in
// degrees, and the box's base and height in the -1..1 window.
constexpr double kAlt = 28, kAz = -60, kBase = 1.0, kHeight = 1.05;

// PLplot's plw3d projection, for text and ticks the 3-D box gets from us: the
// 2-D window point of world (x, y, z) in the box [x0, x1] x [y0, y1] x [z0, z1].
struct Projection {
  double x0, x1, y0, y1, z0, z1;
  std::pair<double, double> operator()(double x, double y, double z) const {
    constexpr double kDeg = M_PI / 180;
    // plw3d widens each range by 1e-5 of its extent.
    const double dx = 1e-5 * (x1 - x0), dy = 1e-5 * (y1 - y0), dz = 1e-5 * (z1 - z0);
    const double cx = kBase / (x1 - x0 + 2 * dx), cy = kBase / (y1 - y0 + 2 * dy), cz = kHeight / (z1 - z0 + 2 * dz);
    const double u = x - 0.5 * (x0 + x1), v = y - 0.5 * (y0 + y1), w = z - (z0 - dz);
    const double saz = std::sin(kAz * kDeg), caz = std::cos(kAz * kDeg);
    const double salt = std::sin(kAlt * kDeg), calt = std::cos(kAlt * kDeg);
    return {u * cx * caz - v * cy * saz, u * cx * saz * salt + v * cy * caz * salt + w * cz * calt};
  }
};

}  // namespace

namespace {

// α ticks along the front edge y = y0, β ticks along x = x1 (the edges the view
// shows in front), both at z = z0: marks pointing out, labels beyond them, the
// ends of both ranges included; then the axis titles.
void Ticks3d(const Projection& pr) {
  const double tx = 0.03 * (pr.x1 - pr.x0), ty = 0.03 * (pr.y1 - pr.y0);
  plcol0(kBlack);
  plschr(0, 0.9 * kTextScale);
  for (double a : AxisTicks(pr.x0, pr.x1)) {
    const auto [ax, ay] = pr(a, pr.y0, pr.z0);
    const auto [bx, by] = pr(a, pr.y0 - ty, pr.z0);
    pljoin(ax, ay, bx, by);
    const auto [lx, ly] = pr(a, pr.y0 - 3.5 * ty, pr.z0);
    plptex(lx, ly - 0.03, 1, 0, 0.5, Written(Fmt("%g", a)).c_str());
  }
  for (double b : AxisTicks(pr.y0, pr.y1)) {
    const auto [ax, ay] = pr(pr.x1, b, pr.z0);
    const auto [bx, by] = pr(pr.x1 + tx, b, pr.z0);
    pljoin(ax, ay, bx, by);
    const auto [lx, ly] = pr(pr.x1 + 2.5 * tx, b, pr.z0);  // below, clear of the z axis' numbers
    plptex(lx, ly - 0.065, 1, 0, 0.5, Written(Fmt("%g", b)).c_str());
  }
  plschr(0, kTextScale);
  const auto [ax, ay] = pr(0.5 * (pr.x0 + pr.x1), pr.y0 - 9 * ty, pr.z0);
  plptex(ax, ay - 0.05, 1, 0, 0.5, Written("α").c_str());
  const auto [bx, by] = pr(pr.x1 + 11 * tx, 0.5 * (pr.y0 + pr.y1), pr.z0);
  plptex(bx, by - 0.05, 1, 0, 0.5, Written("β").c_str());
}

}  // namespace

Result<Frame> Draw3d(Stream& st, const PlotData& d, const std::string& metric, const PlotOptions& o) {
  const io::Surface& s = *d.surface;
  LS_ASSIGN_OR_RETURN(Scale2d sc, Prepare2d(s, metric, o));
  const double lo = Tx(sc.vmin, sc.log), hi = Tx(sc.vmax, sc.log);
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
      const double v = Tx(sc.values[rows[j] * s.nx() + cols[i]], sc.log);
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
  f.log_scale = sc.log;
  plw3d(kBase, kBase, kHeight, s.x.front(), s.x.back(), s.y.front(), s.y.back(), lo, hi, kAlt, kAz);
  plcol0(kBlack);
  plschr(0, 0.9 * kTextScale);
  // The metric is named once, on the z axis (the colour bar beside it has no
  // title); PLplot draws the base edges and the z axis, Ticks3d the α/β ticks.
  const std::string zlabel = Written(sc.label + (sc.log ? " (log scale)" : ""));
  plbox3("b", "", 0, 0, "b", "", 0, 0, sc.log ? "cdmstvl" : "cdmstv", zlabel.c_str(), 0, 4);
  plschr(0, kTextScale);
  Ticks3d(Projection{s.x.front(), s.x.back(), s.y.front(), s.y.back(), lo, hi});
  // Facet lines only where they do not turn the surface grey.
  const PLINT opt = MAG_COLOR | (nx <= 31 && ny <= 31 ? FACETED : 0);
  plwidth(0.3);
  plsurf3dl(xs.data(), ys.data(), m.get(), static_cast<PLINT>(nx), static_cast<PLINT>(ny), opt, nullptr, 0, xfirst,
            xlast + 1, ymin.data(), ymax.data());
  plwidth(1.0);
  // PLplot's 3-D box works in the -1..1 window; put the colour bar next to the viewport.
  ColourBar(PL_COLORBAR_GRADIENT, {lo, hi}, "", sc.log, false);
  TitleAndFooter(s, metric, sc.missing, o, ScaleNote(sc.log, o, sc.vmin, sc.vmax));
  return f;
}

}  // namespace landscape::plot::internal
