#include "landscape/io/summary.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "landscape/io/surface_views.h"

namespace landscape::io {

using core::Status;
using core::StatusCode;
using nlohmann::json;

Status WriteTextFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status(StatusCode::kInternal, "cannot write " + path);
    out << text;
    if (!out.good()) return Status(StatusCode::kInternal, "cannot write " + path);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Status(StatusCode::kInternal, "cannot write " + path);
  return Status::Ok();
}

namespace {

// A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180).
std::string CsvField(const std::string& v) {
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// The shortest decimal that reads back as exactly v (std::to_chars): -0.9, not -0.90000000000000002.
std::string ShortestDouble(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

}  // namespace

std::string XmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

Status WriteSurfaceCsv(const std::string& path, const Surface& s) {
  const auto labels = SurfaceLabels(s);
  std::string label_cells;
  for (const auto& [k, v] : labels) label_cells += "," + CsvField(v);
  std::string text;
  text += s.is_2d() ? "ix,iy,x,y,done" : "ix,x,done";
  for (const auto& m : s.metric_names) text += "," + m;
  for (const auto& [k, v] : labels) text += "," + CsvField("label_" + k);
  text += "\n";
  for (size_t iy = 0; iy < s.ny(); ++iy) {
    for (size_t ix = 0; ix < s.nx(); ++ix) {
      const size_t k = iy * s.nx() + ix;
      text += std::to_string(ix) + ",";
      if (s.is_2d()) text += std::to_string(iy) + ",";
      text += ShortestDouble(s.x[ix]) + ",";
      if (s.is_2d()) text += ShortestDouble(s.y[iy]) + ",";
      text += s.done[k] ? "1" : "0";
      for (const auto& m : s.metric_names) {
        text += ",";
        if (s.done[k]) text += ShortestDouble(s.metrics.at(m)[k]);
      }
      text += label_cells;
      text += "\n";
    }
  }
  return WriteTextFile(path, text);
}

namespace {

json NumberOrNull(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// Finite extremes of v over the computed points (first occurrence in row-major
// order on ties) and the count of non-finite values among them.
struct Extremes {
  size_t nan = 0, n = 0, lo_k = 0, hi_k = 0;
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
};

Extremes ScanExtremes(const Surface& s, const std::vector<double>& v) {
  Extremes e;
  for (size_t k = 0; k < v.size(); ++k) {
    if (!s.done[k]) continue;
    if (!std::isfinite(v[k])) {
      ++e.nan;
      continue;
    }
    ++e.n;
    if (v[k] < e.lo) e.lo = v[k], e.lo_k = k;
    if (v[k] > e.hi) e.hi = v[k], e.hi_k = k;
  }
  return e;
}

json MetricStats(const Surface& s, const std::string& name) {
  const auto& v = s.metrics.at(name);
  const Extremes e = ScanExtremes(s, v);
  const size_t nan = e.nan, n = e.n, lo_k = e.lo_k, hi_k = e.hi_k;
  const double lo = e.lo, hi = e.hi;
  auto where = [&](size_t k) {
    json w = {{"ix", k % s.nx()}, {"x", s.x[k % s.nx()]}};
    if (s.is_2d()) {
      w["iy"] = k / s.nx();
      w["y"] = s.y[k / s.nx()];
    }
    return w;
  };
  json j = {{"nan_count", nan}, {"finite_count", n}};
  if (n > 0) {
    j["min"] = lo;
    j["min_at"] = where(lo_k);
    j["max"] = hi;
    j["max_at"] = where(hi_k);
  }
  // The centre: the grid point nearest to (0, 0).
  auto nearest = [](const std::vector<double>& c) {
    size_t best = 0;
    for (size_t i = 1; i < c.size(); ++i)
      if (std::fabs(c[i]) < std::fabs(c[best])) best = i;
    return best;
  };
  const size_t cx = nearest(s.x), cy = s.is_2d() ? nearest(s.y) : 0;
  const size_t ck = cy * s.nx() + cx;
  if (s.done[ck]) {
    j["centre"] = NumberOrNull(v[ck]);
    j["centre_at"] = where(ck);
  }
  return j;
}

}  // namespace

std::string ScalarNumber(double v) {
  char buf[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

namespace {

// The grid point nearest (0, 0) along each axis, as a flat index.
size_t CentreIndex(const Surface& s) {
  const size_t cx = NearestToZero(s.x), cy = s.is_2d() ? NearestToZero(s.y) : 0;
  return cy * s.nx() + cx;
}

struct Increase {
  size_t points = 0;  // finite points within the radius
  double max = 0, mean = 0;
};

// L - L(centre) over the finite points with ‖(x, y)‖ ≤ r(1 + 1e-9).
std::optional<Increase> LossIncreaseWithin(const Surface& s, const std::vector<double>& loss, double r) {
  const double centre = loss[CentreIndex(s)];
  if (!std::isfinite(centre)) return std::nullopt;
  const double limit = r * (1 + 1e-9);
  Increase inc;
  double sum = 0;
  inc.max = -std::numeric_limits<double>::infinity();
  for (size_t iy = 0; iy < s.ny(); ++iy) {
    const double y = s.is_2d() ? s.y[iy] : 0.0;
    for (size_t ix = 0; ix < s.nx(); ++ix) {
      const double v = loss[iy * s.nx() + ix];
      if (!std::isfinite(v) || std::hypot(s.x[ix], y) > limit) continue;
      ++inc.points;
      sum += v - centre;
      inc.max = std::max(inc.max, v - centre);
    }
  }
  if (inc.points == 0) return std::nullopt;
  inc.mean = sum / static_cast<double>(inc.points);
  return inc;
}

struct Basin {
  size_t points = 0;
  double area = 0;      // Σ cell areas (trapezoid cell widths; lengths in 1-D)
  double fraction = 0;  // area / the grid's area
};

// The 4-connected component of the centre among finite points with L ≤ L(centre) + eps.
std::optional<Basin> BasinBelow(const Surface& s, const std::vector<double>& loss, double eps) {
  const size_t c = CentreIndex(s);
  if (!std::isfinite(loss[c])) return std::nullopt;
  const double level = loss[c] + eps;
  const size_t nx = s.nx(), ny = s.ny();
  const std::vector<double> wx = CellWidths(s.x);
  const std::vector<double> wy = s.is_2d() ? CellWidths(s.y) : std::vector<double>{1.0};
  std::vector<uint8_t> seen(nx * ny, 0);
  std::vector<size_t> stack{c};
  seen[c] = 1;
  Basin b;
  while (!stack.empty()) {
    const size_t k = stack.back();
    stack.pop_back();
    const size_t ix = k % nx, iy = k / nx;
    ++b.points;
    b.area += wx[ix] * wy[iy];
    auto visit = [&](size_t j) {
      if (!seen[j] && std::isfinite(loss[j]) && loss[j] <= level) {
        seen[j] = 1;
        stack.push_back(j);
      }
    };
    if (ix > 0) visit(k - 1);
    if (ix + 1 < nx) visit(k + 1);
    if (iy > 0) visit(k - nx);
    if (iy + 1 < ny) visit(k + nx);
  }
  double total = s.x.back() - s.x.front();
  if (s.is_2d()) total *= s.y.back() - s.y.front();
  b.fraction = total > 0 ? b.area / total : 0.0;
  return b;
}

std::optional<double> Opt(double v) { return std::isfinite(v) ? std::optional<double>(v) : std::nullopt; }

void AddMetricScalars(const Surface& s, const std::string& m, const std::vector<double>& v, Scalars* out) {
  const Extremes e = ScanExtremes(s, v);
  const size_t nan = e.nan, n = e.n, lo_k = e.lo_k, hi_k = e.hi_k;
  const double lo = e.lo, hi = e.hi;
  Scalars& o = *out;
  o[m + ".nan"] = static_cast<double>(nan);
  o[m + ".min"] = n ? Opt(lo) : std::nullopt;
  o[m + ".max"] = n ? Opt(hi) : std::nullopt;
  o[m + ".min_x"] = n ? Opt(s.x[lo_k % s.nx()]) : std::nullopt;
  o[m + ".max_x"] = n ? Opt(s.x[hi_k % s.nx()]) : std::nullopt;
  if (s.is_2d()) {
    o[m + ".min_y"] = n ? Opt(s.y[lo_k / s.nx()]) : std::nullopt;
    o[m + ".max_y"] = n ? Opt(s.y[hi_k / s.nx()]) : std::nullopt;
  }
  o[m + ".centre"] = Opt(v[CentreIndex(s)]);
}

void AddSharpness(const Surface& s, const std::string& prefix, const std::vector<double>& loss,
                  const SharpnessOptions& opts, Scalars* out) {
  for (double r : opts.radii) {
    const auto inc = LossIncreaseWithin(s, loss, r);
    const std::string at = "@" + ScalarNumber(r);
    (*out)[prefix + "max_increase" + at] = inc ? std::optional<double>(inc->max) : std::nullopt;
    (*out)[prefix + "mean_increase" + at] = inc ? std::optional<double>(inc->mean) : std::nullopt;
  }
  for (double e : opts.basin_epsilons) {
    const auto b = BasinBelow(s, loss, e);
    const std::string at = "@" + ScalarNumber(e);
    (*out)[prefix + "basin_area" + at] = b ? std::optional<double>(b->area) : std::nullopt;
    (*out)[prefix + "basin_fraction" + at] = b ? std::optional<double>(b->fraction) : std::nullopt;
  }
}

json NumberOrNull(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

}  // namespace

Scalars SummaryScalars(const Surface& s, const SharpnessOptions& opts) {
  Scalars out;
  out["points"] = static_cast<double>(s.PointCount());
  out["points_done"] = static_cast<double>(s.DoneCount());
  out["missing"] = static_cast<double>(s.PointCount() - s.DoneCount());
  double nan = 0;
  for (const std::string& m : AvailableMetrics(s)) {
    auto v = MetricValues(s, m);
    if (!v.ok()) continue;
    AddMetricScalars(s, m, *v, &out);
    if (s.Has(m)) nan += *out[m + ".nan"];
    if (IsLossMetric(m)) AddSharpness(s, m + ".", *v, opts, &out);
  }
  out["nan"] = nan;
  const std::string primary = PrimaryMetric(s);
  if (IsLossMetric(primary)) {
    auto v = MetricValues(s, primary);
    Scalars p;
    AddSharpness(s, "", *v, opts, &p);
    for (auto& [k, val] : p) {
      // max_increase@r -> max_loss_increase@r; basin_* keep their names.
      const std::string name = k.rfind("max_increase", 0) == 0    ? "max_loss_increase" + k.substr(12)
                               : k.rfind("mean_increase", 0) == 0 ? "mean_loss_increase" + k.substr(13)
                                                                  : k;
      out[name] = val;
    }
  }
  return out;
}

namespace {

// The scalars nested by their names' parts: "train_loss.min" -> {"train_loss": {"min": v}},
// "basin_area@0.5" -> {"basin_area": {"0.5": v}}, "train_loss.basin_area@0.5" -> three levels.
json NestedScalars(const Scalars& scalars) {
  json out = json::object();
  for (const auto& [name, v] : scalars) {
    const size_t at = name.find('@');
    std::vector<std::string> parts;
    std::stringstream ss(name.substr(0, at));
    for (std::string part; std::getline(ss, part, '.');) parts.push_back(part);
    if (at != std::string::npos) parts.push_back(name.substr(at + 1));
    json* node = &out;
    for (size_t i = 0; i + 1 < parts.size(); ++i) node = &(*node)[parts[i]];
    (*node)[parts.back()] = NumberOrNull(v);
  }
  return out;
}

// Beside each reference of the spec to an uploaded file, the file's name: "model": "artifact:<sha>"
// gets "model_file_name": "r20.pt" (from the spec's file_names).
void AddFileNames(json* spec) {
  if (!spec->is_object() || !spec->contains("file_names") || !(*spec)["file_names"].is_object()) return;
  const json names = (*spec)["file_names"];
  auto name_of = [&](const json& v) {
    return v.is_string() && names.contains(v.get<std::string>()) ? names[v.get<std::string>()] : json();
  };
  for (auto& section : spec->items()) {
    if (!section.value().is_object() || section.key() == "file_names") continue;
    json added = json::object();
    for (const auto& field : section.value().items()) {
      if (!name_of(field.value()).is_null()) added[field.key() + "_file_name"] = name_of(field.value());
      if (!field.value().is_array()) continue;
      json list = json::array();
      for (const auto& ref : field.value()) list.push_back(name_of(ref));
      if (!list.empty() && std::any_of(list.begin(), list.end(), [](const json& n) { return !n.is_null(); })) {
        added[field.key() + "_file_names"] = list;
      }
    }
    section.value().update(added);
  }
}

}  // namespace

std::string SurfaceSummaryJson(const Surface& s, const SummaryContext& ctx) {
  json j;
  std::string spec_json = ctx.spec_json;
  if (spec_json.empty()) {
    auto it = s.attributes.find("spec");
    if (it != s.attributes.end()) spec_json = it->second;
  }
  if (!spec_json.empty()) {
    try {
      j["spec"] = json::parse(spec_json);
      AddFileNames(&j["spec"]);
    } catch (const json::exception&) {
      j["spec"] = spec_json;
    }
  }
  json grid = {{"nx", s.nx()}, {"x_min", s.x.front()}, {"x_max", s.x.back()}};
  if (s.is_2d()) {
    grid["ny"] = s.ny();
    grid["y_min"] = s.y.front();
    grid["y_max"] = s.y.back();
  }
  j["grid"] = grid;
  j["points"] = s.PointCount();
  j["points_done"] = s.DoneCount();
  j["complete"] = s.DoneCount() == s.PointCount();
  json metrics = json::object();
  size_t nan_total = 0;
  for (const auto& m : s.metric_names) {
    metrics[m] = MetricStats(s, m);
    nan_total += metrics[m]["nan_count"].get<size_t>();
  }
  j["metrics"] = metrics;
  j["nan_count"] = nan_total;

  const Scalars scalars = SummaryScalars(s, ctx.sharpness);
  json sharpness = json::object();
  for (const std::string& m : s.metric_names) {
    if (!IsLossMetric(m)) continue;
    json radius = json::object(), basin = json::object();
    for (double r : ctx.sharpness.radii) {
      const std::string at = "@" + ScalarNumber(r);
      radius[ScalarNumber(r)] = {{"max_increase", NumberOrNull(scalars.at(m + ".max_increase" + at))},
                                 {"mean_increase", NumberOrNull(scalars.at(m + ".mean_increase" + at))}};
    }
    for (double e : ctx.sharpness.basin_epsilons) {
      const std::string at = "@" + ScalarNumber(e);
      basin[ScalarNumber(e)] = {{"area", NumberOrNull(scalars.at(m + ".basin_area" + at))},
                                {"fraction", NumberOrNull(scalars.at(m + ".basin_fraction" + at))}};
    }
    sharpness[m] = {{"loss_increase_within_radius", radius}, {"basin_below_centre_plus_epsilon", basin}};
  }
  j["sharpness"] = sharpness;
  j["scalars"] = NestedScalars(scalars);

  j["dir_file"] = s.dir_file;
  j["timings_s"] = ctx.timings;
  std::map<std::string, std::string> versions = ctx.versions;
  if (versions.empty()) {
    for (const auto& [k, v] : s.attributes) {
      if (k.rfind("version_", 0) == 0) versions[k.substr(8)] = v;
    }
  }
  j["versions"] = versions;
  std::map<std::string, std::string> labels = SurfaceLabels(s);
  for (const auto& [k, v] : ctx.labels) labels[k] = v;
  j["labels"] = labels;
  for (const auto& [k, v] : ctx.extra) j[k] = v;
  // A boolean in every summary (local, export, service): points remain to be computed.
  j["partial"] = s.DoneCount() != s.PointCount();
  return j.dump(2);
}

}  // namespace landscape::io
