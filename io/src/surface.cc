// The in-memory parts of surfaces (no HDF5).
#include "landscape/io/hdf5_files.h"

namespace landscape::io {

double UnfinishedValue(const std::string& metric) { return metric == "min_eig" ? 1.0 : -1.0; }

size_t Surface::DoneCount() const {
  size_t n = 0;
  for (auto d : done) n += d ? 1 : 0;
  return n;
}

Surface NewSurface(const core::GridSpec& grid, const std::vector<std::string>& metric_names,
                   const std::string& dir_file) {
  Surface s;
  s.x = grid.x.Coordinates();
  if (grid.y) s.y = grid.y->Coordinates();
  s.metric_names = metric_names;
  for (const auto& m : metric_names) s.metrics[m].assign(s.PointCount(), UnfinishedValue(m));
  s.done.assign(s.PointCount(), 0);
  s.dir_file = dir_file;
  return s;
}

Surface NewJobSurface(const core::JobSpec& spec, const std::string& job_name, const std::string& dir_file) {
  Surface s = NewSurface(spec.grid, spec.MetricNames(), dir_file);
  s.attributes["spec"] = core::SpecToJson(spec);
  s.attributes["computation_key"] = core::ComputationKey(spec);
  s.attributes["job"] = job_name;
  for (const auto& [k, v] : spec.labels) s.attributes["label_" + k] = v;
  return s;
}

void FinishJobSurface(const std::map<std::string, std::string>& job_attributes, Surface* surface) {
  surface->attributes["partial"] = surface->DoneCount() < surface->PointCount() ? "true" : "false";
  for (const auto& [k, v] : job_attributes) surface->attributes[k] = v;
}

}  // namespace landscape::io
