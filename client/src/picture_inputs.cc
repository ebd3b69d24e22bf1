#include "picture_inputs.h"

#include <filesystem>

#include "job_flags.h"

namespace landscape::client {

core::Result<io::Surface> LoadSurface(const std::string& path, const std::vector<std::string>& labels) {
  LS_ASSIGN_OR_RETURN(auto extra, ParseLabels(labels));
  LS_ASSIGN_OR_RETURN(io::Surface s, io::ReadSurfaceFile(path));
  for (const auto& [k, v] : extra) s.attributes["label_" + k] = v;
  return s;
}

core::Result<PathInput> LoadPath(const std::string& proj_file, const std::string& dir_file,
                                 const io::Surface& surface) {
  PathInput p;
  auto proj = io::ReadProjectionFile(proj_file);
  if (!proj.ok()) return proj.status().WithContext("--proj-file");
  p.x = std::move(proj->x);
  p.y = std::move(proj->y);
  std::string dirs = dir_file;
  if (dirs.empty()) {
    dirs = surface.dir_file;
    if (dirs.empty() || !std::filesystem::exists(dirs)) {
      p.note = "no direction file (" + (dirs.empty() ? std::string("the surface names none") : dirs + " is missing") +
               "): axes without PC percentages; pass --dir-file";
      return p;
    }
  }
  auto d = io::ReadDirectionFile(dirs);
  if (!d.ok()) return d.status().WithContext("--dir-file");
  if (d->pca && d->pca->explained_variance_ratio.size() >= 2) {
    p.explained_variance = std::array<double, 2>{d->pca->explained_variance_ratio[0],
                                                 d->pca->explained_variance_ratio[1]};
  } else {
    p.note = dirs + " is not a PCA direction file: axes without PC percentages";
  }
  return p;
}

}  // namespace landscape::client
