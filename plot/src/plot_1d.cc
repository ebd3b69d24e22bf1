// The 1-D pictures: loss (left axis) and accuracy (right axis) with overlays,
// and the Hessian's eigenvalue ratios.
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

// Points along the polyline (x, y) in viewport fractions of the window
// [x0, x1] x [y0, y1], 8 per segment, so that a legend box placed between two
// samples still meets the line. Missing points break the line.
void AddSamples(const std::vector<double>& x, const std::vector<double>& y, double x0, double x1, double y0,
                double y1, std::vector<std::pair<double, double>>* pts) {
  auto add = [&](double px, double py) { pts->emplace_back((px - x0) / (x1 - x0), (py - y0) / (y1 - y0)); };
  const size_t n = std::min(x.size(), y.size());
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(y[i])) continue;
    add(x[i], y[i]);
    if (i + 1 < n && std::isfinite(y[i + 1])) {
      for (int k = 1; k < 8; ++k) add(x[i] + (x[i + 1] - x[i]) * k / 8, y[i] + (y[i + 1] - y[i]) * k / 8);
    }
  }
}

struct Curve {
  const std::vector<double>* x;
  std::vector<double> y;  // log10 of the values on a log loss axis
  int colour;
  int style;              // pllsty: 1 solid (train), 2 dashed (test)
  bool acc;               // on the accuracy axis (0..100 %)
};

// The window of the loss axis: x0, x1, y0, y1.
struct Window {
  double x0, x1, y0, y1;
};

// The curves, each on its axis; accuracy with dots when several surfaces share the axes.
void DrawCurveLines(const std::vector<Curve>& curves, bool many, const Window& w) {
  for (const Curve& c : curves) {
    plwind(w.x0, w.x1, c.acc ? 0.0 : w.y0, c.acc ? 100.0 : w.y1);
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
}

// Axes: loss on the left (blue; `left_label` empty when there is no loss),
// accuracy on the right (red), as the reference. Leaves the loss window set.
void CurveAxes(const Window& w, bool many, bool log, const std::string& left_label, bool any_acc) {
  plwind(w.x0, w.x1, w.y0, w.y1);
  plcol0(kBlack);
  plbox("bcnst", 0, 0, "", 0, 0);
  plcol0(many ? kBlack : kBlue);
  plbox("", 0, 0, log ? "bnstvl" : "bnstv", 0, 0);
  if (!left_label.empty()) plmtex("l", 4.0, 0.5, 0.5, Written(left_label).c_str());
  if (any_acc) {
    plwind(w.x0, w.x1, 0, 100);
    plcol0(many ? kBlack : kRed);
    plbox("", 0, 0, "cmstv", 0, 0);
    plmtex("r", 4.0, 0.5, 0.5, Written("accuracy (%)").c_str());
  } else {
    plcol0(kBlack);
    plbox("", 0, 0, log ? "cstl" : "cst", 0, 0);  // the frame's right edge
  }
  plwind(w.x0, w.x1, w.y0, w.y1);
  plcol0(kBlack);
  plmtex("b", 3.0, 0.5, 0.5, Written("α  (x direction)").c_str());
}

// The title lines of a 1-D picture of `first` and `count` - 1 overlays.
std::vector<std::string> CurveTitle(const io::Surface& first, size_t count, const PlotOptions& o) {
  auto lines = io::TitleLines(first, io::PrimaryMetric(first));
  const std::string what = !o.metric.empty() ? io::MetricDisplayName(o.metric) : std::string("loss and accuracy");
  if (count > 1) {
    // The surfaces differ (directions, models): describe only what the first says of data and grid.
    const io::SurfaceDescription desc = io::DescribeSurface(first);
    lines[1] = desc.data.empty() ? desc.grid : desc.data + "  ·  " + desc.grid;
    lines[0] = std::to_string(count) + " surfaces  ·  " + what;
  } else {
    const size_t sep = lines[0].find("  ·  ");
    lines[0] = (sep != std::string::npos ? lines[0].substr(0, sep) + "  ·  " : std::string()) + what;
  }
  return lines;
}

}  // namespace

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
  const bool log = o.scale == Scale::kLog;  // 1-D: linear unless asked
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
        if (log) {
          for (double& y : v) y = Tx(y, true);
        }
        std::vector<double> shown;  // the points inside the requested α range
        for (size_t i = 0; i < v.size() && i < s.x.size(); ++i) {
          if ((!o.xmin || s.x[i] >= *o.xmin) && (!o.xmax || s.x[i] <= *o.xmax)) shown.push_back(v[i]);
        }
        auto [a, b] = FiniteRange(shown);
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
  } else if (log) {
    if (!std::isfinite(llo)) return InvalidArgument("--log", "a log scale needs positive loss values");
    y0 = o.vmin ? Tx(*o.vmin, true) : std::floor(llo);
    y1 = o.vmax ? Tx(*o.vmax, true) : std::ceil(lhi + 1e-12);
    if (!std::isfinite(y0) || !std::isfinite(y1)) return InvalidArgument("--vmin/--vmax", "a log scale needs > 0");
  } else {
    y0 = o.vmin.value_or(std::min(0.0, llo));
    y1 = o.vmax.value_or(lhi > y0 ? y0 + (lhi - y0) * 1.05 : y0 + 1);
  }
  if (!(y0 < y1)) return InvalidArgument("--vmin/--vmax", "need vmin < vmax");
  if (o.xmin) xlo = *o.xmin;
  if (o.xmax) xhi = *o.xmax;
  if ((o.xmin || o.xmax) && !(xlo < xhi)) return InvalidArgument("--xmin/--xmax", "need xmin < xmax");
  if (!(xlo < xhi)) xlo -= 0.5, xhi += 0.5;

  plvpor(0.10, 0.88, 0.14, 0.84);
  plwind(xlo, xhi, y0, y1);
  Frame f = CurrentFrame(st);
  f.log_scale = log;
  std::vector<std::pair<double, double>> pts;  // the curves in viewport fractions, for the legend
  for (const Curve& c : curves) AddSamples(*c.x, c.y, xlo, xhi, c.acc ? 0.0 : y0, c.acc ? 100.0 : y1, &pts);
  DrawCurveLines(curves, many, {xlo, xhi, y0, y1});
  const std::string left = single ? io::MetricDisplayName(o.metric) : std::string("loss");
  CurveAxes({xlo, xhi, y0, y1}, many, log, any_loss ? (log ? left + " (log scale)" : left) : "", any_acc);
  const auto [lw, lh] = LegendSize(legend);
  f.legend = Legend(st, legend, LegendOrigin(pts, lw, lh));
  Title(CurveTitle(*d.surface, series.size(), o), o.title);
  Footer(*d.surface, log ? "loss axis: log scale" : "");
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
  const std::string xl = Written("α  (x direction)"), yl = Written("eigenvalue ratio");
  pllab(xl.c_str(), yl.c_str(), "");
  std::vector<std::pair<double, double>> pts;
  AddSamples(s.x, ratio, x0, x1, y0, y1, &pts);
  AddSamples(s.x, raw, x0, x1, y0, y1, &pts);
  const std::vector<LegendEntry> entries{{"|λmin / λmax|", kBlue, 1, 2.0, false}, {"λmin / λmax", kRed, 2, 2.0, false}};
  const auto [lw, lh] = LegendSize(entries);
  f.legend = Legend(st, entries, LegendOrigin(pts, lw, lh));
  auto lines = io::TitleLines(s, "eig_ratio");
  Title(lines, o.title);
  Footer(s);
  return f;
}

}  // namespace landscape::plot::internal
