// `landscape export SURFACE.h5 --format vtp|obj|csv|json --out F`.
#include <cstdio>
#include <filesystem>

#include "cmd_pictures.h"
#include "exit_codes.h"
#include "landscape/io/mesh_export.h"
#include "landscape/io/summary.h"
#include "picture_inputs.h"

namespace landscape::client {

int RunExport(const ExportCmdOptions& o) {
  std::string format = o.format;
  if (format.empty()) {
    format = std::filesystem::path(o.out).extension().string();
    if (!format.empty()) format = format.substr(1);
  }
  if (format != "vtp" && format != "obj" && format != "csv" && format != "json") {
    return Report(core::InvalidArgument("--format", "'" + format +
                                                        "' is not an export format (vtp, obj, csv, json; or name "
                                                        "--out with one of these extensions)"));
  }
  const bool mesh_only = !o.metric.empty() || o.zmax != 0 || o.log || o.interp != 0;
  if ((format == "csv" || format == "json") && mesh_only) {
    return Report(core::InvalidArgument("--format", "--metric, --zmax, --log and --interp apply to vtp and obj"));
  }
  auto surface = LoadSurface(o.surface, o.labels);
  if (!surface.ok()) return Report(surface.status());

  core::Status st;
  if (format == "csv") {
    st = io::WriteSurfaceCsv(o.out, *surface);
  } else if (format == "json") {
    io::SummaryContext ctx;
    ctx.extra["surface_file"] = o.surface;
    st = io::WriteTextFile(o.out, io::SurfaceSummaryJson(*surface, ctx));
  } else {
    io::MeshOptions mo;
    mo.metric = o.metric;
    mo.zmax = o.zmax;
    mo.log = o.log;
    mo.interp = o.interp;
    auto mesh = io::BuildMesh(*surface, mo);
    if (!mesh.ok()) return Report(mesh.status());
    mesh->source = o.surface;
    st = format == "vtp" ? io::WriteVtp(o.out, *mesh) : io::WriteObj(o.out, *mesh);
    if (st.ok()) {
      std::fprintf(stderr, "landscape: %s: %zu x %zu points, %zu quads, z = %s\n", o.out.c_str(), mesh->nx(),
                   mesh->ny(), mesh->ValidCellCount(), mesh->metric.c_str());
    }
  }
  if (!st.ok()) return Report(st);
  std::fprintf(stderr, "landscape: wrote %s\n", o.out.c_str());
  return kExitOk;
}

}  // namespace landscape::client
