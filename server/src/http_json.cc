#include "http_json.h"

#include <cmath>
#include <cstdio>

#include "landscape/io/hdf5_files.h"

namespace landscape::server::http {

using nlohmann::json;

namespace {

json Number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

void Progress(json& j, int64_t points_done, int64_t points_total, int64_t tiles_done, int64_t tiles_total) {
  j["points_done"] = points_done;
  j["points_total"] = points_total;
  j["tiles_done"] = tiles_done;
  j["tiles_total"] = tiles_total;
}

json Axis(const core::AxisSpec& a) { return json{{"min", a.min}, {"max", a.max}, {"num", a.num}}; }

}  // namespace

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json JobJson(const core::JobRecord& job, int64_t now_ms) {
  json j;
  j["id"] = job.id;
  j["name"] = job.spec.name;
  j["state"] = core::Name(job.state);
  j["labels"] = job.spec.labels;
  j["priority"] = job.priority;
  j["created_ms"] = job.created_ms;
  j["started_ms"] = job.started_ms;
  j["ended_ms"] = job.ended_ms;
  Progress(j, job.points_done, job.points_total, job.tiles_done, job.tiles_total);
  const double rate = job.state == core::JobState::kRunning ? job.Rate(now_ms) : 0.0;
  j["rate"] = rate;  // points per second while running
  j["eta_s"] = rate > 0 ? json(static_cast<double>(job.points_total - job.points_done) / rate) : json(nullptr);
  j["error"] = job.error;
  j["error_field"] = job.error_field;
  j["grid"] = {{"x", Axis(job.spec.grid.x)}, {"y", job.spec.grid.y ? Axis(*job.spec.grid.y) : json(nullptr)}};
  j["metrics"] = job.spec.MetricNames();
  j["spec"] = json::parse(core::SpecToJson(job.spec), nullptr, false);
  return j;
}

json EventJson(const core::JobEvent& ev, const std::vector<std::string>& metrics) {
  json j;
  j["time_ms"] = ev.time_ms;
  Progress(j, ev.points_done, ev.points_total, ev.tiles_done, ev.tiles_total);
  j["running_ms"] = ev.running_ms;
  if (ev.type == core::JobEvent::Type::kState) {
    j["type"] = "state";
    j["state"] = core::Name(ev.state);
    j["message"] = ev.message;
    j["field"] = ev.field;
    return j;
  }
  j["type"] = "tile";
  j["tile"] = ev.tile;
  j["begin"] = ev.begin;
  j["end"] = ev.end;
  const size_t n = static_cast<size_t>(ev.end - ev.begin);
  json values = json::object();
  for (size_t m = 0; m < metrics.size(); ++m) {
    json a = json::array();
    for (size_t i = 0; i < n && m * n + i < ev.values.size(); ++i) a.push_back(Number(ev.values[m * n + i]));
    values[metrics[m]] = std::move(a);
  }
  j["values"] = std::move(values);
  return j;
}

namespace {

// Every finished tile's values: values[m][k] for metric m at flat point k (NaN where unfinished).
struct SurfaceValues {
  std::vector<std::vector<double>> values;
  std::vector<uint8_t> done;
  int64_t points_done = 0;
};

core::Result<SurfaceValues> CollectSurface(JobService* service, const core::JobRecord& job, size_t metrics) {
  const int64_t points = job.spec.grid.PointCount();
  SurfaceValues out;
  out.values.assign(metrics, std::vector<double>(points, NAN));
  out.done.assign(points, 0);
  int64_t next = 0;
  while (next < job.tiles_total) {
    const int64_t before = next;
    LS_ASSIGN_OR_RETURN(std::vector<TileValues> tiles, service->ReadSurfaceTiles(job, &next));
    for (const auto& t : tiles) {
      const int64_t n = t.end - t.begin;
      if (t.begin < 0 || t.end > points || n <= 0) continue;
      for (size_t m = 0; m < metrics; ++m) {
        for (int64_t i = 0; i < n && static_cast<size_t>(m * n + i) < t.values.size(); ++i) {
          out.values[m][t.begin + i] = t.values[m * n + i];
        }
      }
      for (int64_t i = t.begin; i < t.end; ++i) out.done[i] = 1;
      out.points_done += n;
    }
    if (next <= before) break;  // no progress: never loop
  }
  return out;
}

}  // namespace

core::Result<json> SurfaceJson(JobService* service, const core::JobRecord& job, int64_t now_ms) {
  const std::vector<std::string> metrics = job.spec.MetricNames();
  const int64_t points = job.spec.grid.PointCount();
  LS_ASSIGN_OR_RETURN(SurfaceValues sv, CollectSurface(service, job, metrics.size()));
  const auto& values = sv.values;
  const int64_t points_done = sv.points_done;
  json j;
  j["job"] = JobJson(job, now_ms);
  j["axes"] = {{"x", job.spec.grid.x.Coordinates()},
               {"y", job.spec.grid.y ? json(job.spec.grid.y->Coordinates()) : json::array()}};
  json ms = json::object();
  for (size_t m = 0; m < metrics.size(); ++m) {
    json a = json::array();
    for (double v : values[m]) a.push_back(Number(v));
    ms[metrics[m]] = std::move(a);
  }
  j["metrics"] = std::move(ms);
  j["done"] = std::vector<int>(sv.done.begin(), sv.done.end());
  j["points_done"] = points_done;
  j["complete"] = points_done == points && job.state == core::JobState::kSucceeded;
  return j;
}

core::Result<std::string> SurfaceH5(JobService* service, const core::JobRecord& job) {
  io::Surface s = io::NewJobSurface(job.spec, core::JobName(job.id), job.dir_artifact);
  LS_ASSIGN_OR_RETURN(SurfaceValues sv, CollectSurface(service, job, s.metric_names.size()));
  for (size_t m = 0; m < s.metric_names.size(); ++m) {
    std::vector<double>& dst = s.metrics[s.metric_names[m]];
    for (size_t k = 0; k < dst.size(); ++k) {
      if (sv.done[k]) dst[k] = sv.values[m][k];
    }
  }
  s.done = std::move(sv.done);
  io::FinishJobSurface(job.attributes, &s);
  return io::SurfaceFileImage(s);
}

std::string SurfaceCsv(const json& s) {
  const auto& xs = s["axes"]["x"];
  const auto& ys = s["axes"]["y"];
  const size_t nx = xs.size();
  std::string out = "ix,iy,alpha,beta";
  for (const auto& [name, _] : s["metrics"].items()) out += "," + name;
  out += "\n";
  const auto& done = s["done"];
  char buf[128];
  for (size_t k = 0; k < done.size(); ++k) {
    if (done[k].get<int>() == 0) continue;
    const size_t ix = k % nx, iy = k / nx;
    const double beta = ys.empty() ? 0.0 : ys[iy].get<double>();
    std::snprintf(buf, sizeof buf, "%zu,%zu,%.17g,%.17g", ix, iy, xs[ix].get<double>(), beta);
    out += buf;
    for (const auto& [_, arr] : s["metrics"].items()) {
      if (arr[k].is_null()) {
        out += ",nan";
      } else {
        std::snprintf(buf, sizeof buf, ",%.17g", arr[k].get<double>());
        out += buf;
      }
    }
    out += "\n";
  }
  return out;
}

}  // namespace landscape::server::http
