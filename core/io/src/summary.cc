#include "landscape/io/summary.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

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

Status WriteSurfaceCsv(const std::string& path, const Surface& s) {
  std::string text;
  text += s.is_2d() ? "ix,iy,x,y,done" : "ix,x,done";
  for (const auto& m : s.metric_names) text += "," + m;
  text += "\n";
  char buf[128];
  for (size_t iy = 0; iy < s.ny(); ++iy) {
    for (size_t ix = 0; ix < s.nx(); ++ix) {
      const size_t k = iy * s.nx() + ix;
      if (s.is_2d()) {
        std::snprintf(buf, sizeof buf, "%zu,%zu,%.17g,%.17g,%d", ix, iy, s.x[ix], s.y[iy], s.done[k] ? 1 : 0);
      } else {
        std::snprintf(buf, sizeof buf, "%zu,%.17g,%d", ix, s.x[ix], s.done[k] ? 1 : 0);
      }
      text += buf;
      for (const auto& m : s.metric_names) {
        const double v = s.metrics.at(m)[k];
        if (!s.done[k]) {
          text += ",";
        } else {
          std::snprintf(buf, sizeof buf, ",%.17g", v);
          text += buf;
        }
      }
      text += "\n";
    }
  }
  return WriteTextFile(path, text);
}

namespace {

json NumberOrNull(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json MetricStats(const Surface& s, const std::string& name) {
  const auto& v = s.metrics.at(name);
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  size_t lo_k = 0, hi_k = 0, nan = 0, n = 0;
  for (size_t k = 0; k < v.size(); ++k) {
    if (!s.done[k]) continue;
    if (!std::isfinite(v[k])) {
      ++nan;
      continue;
    }
    ++n;
    if (v[k] < lo) lo = v[k], lo_k = k;
    if (v[k] > hi) hi = v[k], hi_k = k;
  }
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

std::string SurfaceSummaryJson(const Surface& s, const SummaryContext& ctx) {
  json j;
  if (!ctx.spec_json.empty()) {
    try {
      j["spec"] = json::parse(ctx.spec_json);
    } catch (const json::exception&) {
      j["spec"] = ctx.spec_json;
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
  j["dir_file"] = s.dir_file;
  j["timings_s"] = ctx.timings;
  j["versions"] = ctx.versions;
  j["labels"] = ctx.labels;
  for (const auto& [k, v] : ctx.extra) j[k] = v;
  return j.dump(2);
}

}  // namespace landscape::io
