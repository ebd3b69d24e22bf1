#include "landscape/plot/plot.h"

#include <plplot.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <cctype>
#include <tuple>

#include "colormaps.h"
#include "draw.h"
#include "furniture.h"
#include "landscape/io/surface_views.h"
#include "stream.h"

namespace landscape::plot {

using core::InvalidArgument;
using core::Result;
using core::Status;
using internal::Fmt;

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

const char* ScaleName(Scale scale) {
  switch (scale) {
    case Scale::kAuto: return "auto";
    case Scale::kLinear: return "linear";
    case Scale::kLog: return "log";
  }
  return "?";
}

Result<Scale> ParseScale(std::string_view name, std::string_view field) {
  for (Scale sc : {Scale::kAuto, Scale::kLinear, Scale::kLog}) {
    if (name == ScaleName(sc)) return sc;
  }
  return InvalidArgument(std::string(field), "unknown scale '" + std::string(name) + "' (auto, linear, log)");
}

bool AutoLogScale(const std::vector<double>& values, std::optional<std::pair<double, double>> range) {
  auto [lo, hi] = internal::FiniteRange(values);
  if (!std::isfinite(lo) || lo <= 0) return false;  // nothing finite, or a value <= 0
  if (range) std::tie(lo, hi) = *range;
  if (!(lo > 0 && hi > lo)) return false;
  if (hi / lo > 100) return true;
  const double tenth = lo + 0.1 * (hi - lo);
  size_t finite = 0, low = 0;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    ++finite;
    low += v <= tenth ? 1 : 0;
  }
  return 2 * low > finite;
}

Status CheckOptions(const PlotOptions& o) {
  if (o.vmin && !std::isfinite(*o.vmin)) return InvalidArgument("--vmin", "must be a finite number");
  if (o.vmax && !std::isfinite(*o.vmax)) return InvalidArgument("--vmax", "must be a finite number");
  if (o.vmin && o.vmax && !(*o.vmin < *o.vmax)) {
    return InvalidArgument("--vmax", "must be greater than --vmin (got --vmin " + Fmt("%g", *o.vmin) +
                                         " --vmax " + Fmt("%g", *o.vmax) + ")");
  }
  if (o.vlevel && !(std::isfinite(*o.vlevel) && *o.vlevel > 0)) {
    return InvalidArgument("--vlevel", "must be a number > 0 (got " + Fmt("%g", *o.vlevel) + ")");
  }
  if (o.scale == Scale::kLog && o.vmin && *o.vmin <= 0) {
    return InvalidArgument("--log", "a log scale needs --vmin > 0 (got " + Fmt("%g", *o.vmin) + ")");
  }
  if (o.scale == Scale::kLog && o.vmax && *o.vmax <= 0) {
    return InvalidArgument("--log", "a log scale needs --vmax > 0 (got " + Fmt("%g", *o.vmax) + ")");
  }
  if (o.width < 100 || o.width > 10000) return InvalidArgument("--width", "must be 100..10000");
  if (o.height < 100 || o.height > 10000) return InvalidArgument("--height", "must be 100..10000");
  return Status::Ok();
}

namespace {
// The metrics `kind` draws from `s` on its value axis.
std::vector<std::string> ScaledMetrics(const io::Surface& s, Kind kind, const PlotOptions& o) {
  if (kind == Kind::kHessian) return {"eig_ratio"};
  if (kind != Kind::kCurve1d || !o.metric.empty()) {
    return {o.metric.empty() ? io::PrimaryMetric(s) : o.metric};
  }
  std::vector<std::string> out;
  for (const char* m : {"train_loss", "test_loss"}) {
    if (s.Has(m)) out.push_back(m);
  }
  return out;
}
}  // namespace

Status CheckOptions(const PlotData& data, Kind kind, const PlotOptions& o) {
  LS_RETURN_IF_ERROR(CheckOptions(o));
  if (o.scale != Scale::kLog || !data.surface) return Status::Ok();
  std::vector<const io::Surface*> surfaces{data.surface};
  if (kind == Kind::kCurve1d) {
    for (const Overlay& ov : data.overlays) {
      if (ov.surface) surfaces.push_back(ov.surface);
    }
  }
  for (const io::Surface* s : surfaces) {
    for (const std::string& m : ScaledMetrics(*s, kind, o)) {
      auto v = io::MetricValues(*s, m);
      if (!v.ok()) continue;  // Draw names the missing metric
      const auto [lo, hi] = internal::FiniteRange(*v);
      if (std::isfinite(lo) && lo <= 0) {
        return InvalidArgument("--log", "a log scale needs positive values; " + m + " goes down to " +
                                            Fmt("%g", lo) + " (use --scale linear)");
      }
    }
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

namespace {
Result<Frame> DrawUnlogged(const PlotData& data, Kind kind, const PlotOptions& opts, const std::string& out_path);
}  // namespace

std::vector<double> AxisTicks(double lo, double hi) {
  if (!(lo < hi)) return {lo};
  const double raw = (hi - lo) / 4;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * p;
  for (double m : {1.0, 2.0, 2.5, 5.0}) {
    if (m * p >= raw) {
      step = m * p;
      break;
    }
  }
  std::vector<double> ticks{lo};
  for (double k = std::ceil(lo / step); k * step < hi; k += 1) {
    const double v = std::fabs(k * step) < 1e-9 * step ? 0.0 : k * step;
    if (v - lo >= 0.45 * step && hi - v >= 0.45 * step) ticks.push_back(v);
  }
  ticks.push_back(hi);
  return ticks;
}

Result<Frame> Draw(const PlotData& data, Kind kind, const PlotOptions& opts, const std::string& out_path) {
  LS_RETURN_IF_ERROR(CheckOptions(data, kind, opts));
  std::lock_guard<std::mutex> lock(PlplotMutex());
  internal::TextLog().clear();
  Result<Frame> frame = DrawUnlogged(data, kind, opts, out_path);
  if (frame.ok()) frame->texts = std::move(internal::TextLog());
  internal::TextLog().clear();
  return frame;
}

namespace {
// Draw() without the options check and the text log; the caller holds PlplotMutex().
Result<Frame> DrawUnlogged(const PlotData& data, Kind kind, const PlotOptions& opts, const std::string& out_path) {
  if (!data.surface) {
    // Only a training path (the reference's plot_2D with a projection file and no surface).
    if (kind != Kind::kTrajectory) return InvalidArgument("surface", "no surface to draw");
    if (!data.trajectory || data.trajectory->x.empty() || data.trajectory->x.size() != data.trajectory->y.size()) {
      return InvalidArgument("--proj-file", "the projected path is missing, empty, or its x and y differ in length");
    }
    LS_ASSIGN_OR_RETURN(Format format, FormatForPath(out_path));
    LS_ASSIGN_OR_RETURN(auto stream, Stream::Open(out_path, format, opts.width, opts.height));
    SetPalette();
    plschr(0, internal::kTextScale);
    plfontld(1);
    LS_ASSIGN_OR_RETURN(Frame frame, internal::DrawPathOnly(*stream, data, opts));
    LS_RETURN_IF_ERROR(stream->Finish());
    return frame;
  }
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

  LS_ASSIGN_OR_RETURN(auto stream, Stream::Open(out_path, format, opts.width, opts.height));
  SetPalette();
  plschr(0, internal::kTextScale);
  plfontld(1);
  Result<Frame> frame = Status(core::StatusCode::kInternal, "unreachable");
  switch (kind) {
    case Kind::kContour:
    case Kind::kTrajectory: frame = internal::DrawContour(*stream, data, metric, opts); break;
    case Kind::kFilled: frame = internal::DrawFilledOrHeat(*stream, data, metric, opts, false, std::nullopt); break;
    case Kind::kHeat: frame = internal::DrawFilledOrHeat(*stream, data, metric, opts, true, std::nullopt); break;
    case Kind::kSurface3d: frame = internal::Draw3d(*stream, data, metric, opts); break;
    case Kind::kCurve1d: frame = internal::DrawCurves(*stream, data, opts); break;
    case Kind::kHessian:
      if (s.is_2d()) {
        // The reference's map: viridis over 0..0.5.
        frame = internal::DrawFilledOrHeat(*stream, data, metric, opts, true, std::make_pair(0.0, 0.5));
      } else {
        frame = internal::DrawHessian1d(*stream, data, opts);
      }
      break;
  }
  if (!frame.ok()) return frame.status();  // the stream's destructor removes the partial file
  LS_RETURN_IF_ERROR(stream->Finish());
  return frame;
}
}  // namespace

}  // namespace landscape::plot
