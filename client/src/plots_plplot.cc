// Pictures with PLplot: `landscape plot`, --plot at the end of local/get, and
// the report's pictures.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "cmd_pictures.h"
#include "exit_codes.h"
#include "landscape/core/system.h"
#include "landscape/io/surface_views.h"
#include "landscape/plot/plot.h"
#include "picture_inputs.h"
#include "plots.h"

namespace landscape::client {

namespace {

// "dir/name.h5" -> "dir/name"; other names are kept whole.
std::string Stem(const std::string& path) {
  const std::filesystem::path p(path);
  if (p.extension() == ".h5" || p.extension() == ".hdf5") return (p.parent_path() / p.stem()).string();
  return path;
}

// "F.png" + "contour" -> "F_contour.png".
std::string WithSuffix(const std::string& out, const std::string& suffix) {
  const std::filesystem::path p(out);
  return (p.parent_path() / (p.stem().string() + "_" + suffix + p.extension().string())).string();
}

// Expands "all" and removes duplicates, keeping the order given.
core::Result<std::vector<plot::Kind>> ExpandKinds(const std::vector<std::string>& names, const io::Surface& s) {
  std::vector<plot::Kind> out;
  std::set<plot::Kind> seen;
  for (const std::string& n : names) {
    std::vector<plot::Kind> ks;
    if (n == "all") {
      ks = plot::AllKinds(s);
    } else {
      LS_ASSIGN_OR_RETURN(plot::Kind k, plot::ParseKind(n));
      ks.push_back(k);
    }
    for (plot::Kind k : ks) {
      if (seen.insert(k).second) out.push_back(k);
    }
  }
  return out;
}

std::string DefaultLabel(const std::string& path, const io::Surface& s) {
  const io::SurfaceDescription d = io::DescribeSurface(s);
  if (!d.name.empty()) return d.name;
  return std::filesystem::path(path).stem().string();
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

bool HavePictures() { return true; }

core::Status CheckPlotKinds(const std::vector<std::string>& kinds) {
  for (const std::string& k : kinds) {
    if (k == "all") continue;
    LS_ASSIGN_OR_RETURN(plot::Kind kind, plot::ParseKind(k, "--plot"));
    if (kind == plot::Kind::kTrajectory) {
      return core::InvalidArgument("--plot", "'trajectory' needs a projection file: draw it with 'landscape plot "
                                             "SURFACE.h5 --kind trajectory --proj-file P.h5'");
    }
  }
  return core::Status::Ok();
}

core::Status DrawDefaultPlots(const std::string& surface_path, const io::Surface& surface,
                              const std::vector<std::string>& kinds) {
  LS_RETURN_IF_ERROR(CheckPlotKinds(kinds));
  LS_ASSIGN_OR_RETURN(std::vector<plot::Kind> list, ExpandKinds(kinds, surface));
  std::vector<plot::Kind> fitting;
  for (plot::Kind k : list) {
    core::Status fits = plot::CheckKind(k, surface);
    if (fits.ok()) {
      fitting.push_back(k);
      continue;
    }
    std::fprintf(stderr, "landscape: skipping picture '%s': %s\n", plot::KindName(k), fits.message().c_str());
    if (!surface.is_2d() && k != plot::Kind::kHessian &&
        std::find(list.begin(), list.end(), plot::Kind::kCurve1d) == list.end() &&
        std::find(fitting.begin(), fitting.end(), plot::Kind::kCurve1d) == fitting.end()) {
      fitting.push_back(plot::Kind::kCurve1d);  // a 1-D surface still gets its picture
    }
  }
  plot::PlotOptions opts;
  plot::PlotData data;
  data.surface = &surface;
  const std::string metric = io::PrimaryMetric(surface);
  for (plot::Kind k : fitting) {
    const std::string name = k == plot::Kind::kHessian  ? "eig_ratio"
                             : k == plot::Kind::kCurve1d ? "loss_acc"
                                                         : metric;
    const std::string out = Stem(surface_path) + "_" + name + "_" + plot::KindName(k) + ".png";
    auto r = plot::Draw(data, k, opts, out);
    if (!r.ok()) return r.status().WithContext(std::string("picture '") + plot::KindName(k) + "'");
    std::fprintf(stderr, "landscape: wrote %s\n", out.c_str());
  }
  return core::Status::Ok();
}

std::vector<ReportPicture> ReportPictures(const io::Surface& surface, const std::string& metric,
                                          const std::string& proj_file, const std::string& dir_file) {
  std::vector<ReportPicture> pictures;
  core::TempDir dir("landscape-pictures");
  if (!dir.ok()) {
    pictures.push_back({"pictures", "", "cannot create a temporary directory"});
    return pictures;
  }
  plot::PlotData data;
  data.surface = &surface;
  std::vector<plot::Kind> kinds = plot::AllKinds(surface);
  if (!proj_file.empty()) {
    auto path = LoadPath(proj_file, dir_file, surface);
    if (path.ok()) {
      data.trajectory = plot::Trajectory{path->x, path->y, path->explained_variance};
      kinds.push_back(plot::Kind::kTrajectory);
    } else {
      pictures.push_back({"trajectory", "", path.status().ToString()});
    }
  }
  plot::PlotOptions opts;
  opts.metric = metric;
  opts.width = 900;
  opts.height = 675;
  for (plot::Kind k : kinds) {
    plot::PlotData d = data;
    if (k != plot::Kind::kTrajectory) d.trajectory.reset();
    const std::string file = dir.File(std::string(plot::KindName(k)) + ".png");
    auto r = plot::Draw(d, k, opts, file);
    ReportPicture p;
    p.caption = plot::KindName(k);
    if (r.ok()) {
      p.png = ReadAll(file);
    } else {
      p.error = r.status().ToString();
    }
    pictures.push_back(std::move(p));
  }
  return pictures;
}

// `plot --proj-file P.h5 [--dir-file D.h5]` without a surface: the training path alone.
int RunPathPlot(const PlotCmdOptions& o) {
  if (o.proj_file.empty()) {
    return Report(core::InvalidArgument("surface", "give a surface file, or --proj-file to draw a training path alone"));
  }
  if (!o.kind.empty() && o.kind != "trajectory") {
    return Report(core::InvalidArgument("--kind", "'" + o.kind + "' needs a surface file; without one, only the "
                                                  "trajectory can be drawn"));
  }
  if (!o.overlays.empty()) return Report(core::InvalidArgument("--overlay", "needs a surface file"));
  auto format = plot::FormatForPath(o.out);
  if (!format.ok()) return Report(format.status());
  const io::Surface none;
  auto path = LoadPath(o.proj_file, o.dir_file, none);
  if (!path.ok()) return Report(path.status());
  if (!path->note.empty() && !o.dir_file.empty()) std::fprintf(stderr, "landscape: note: %s\n", path->note.c_str());
  plot::PlotData data;
  data.trajectory = plot::Trajectory{path->x, path->y, path->explained_variance};
  plot::PlotOptions opts;
  opts.width = o.width;
  opts.height = o.height;
  opts.title = o.title;
  auto r = plot::Draw(data, plot::Kind::kTrajectory, opts, o.out);
  if (!r.ok()) return Report(r.status());
  std::fprintf(stderr, "landscape: wrote %s\n", o.out.c_str());
  return kExitOk;
}

// The picture options of the command line, checked before any file is read:
// a bad one is InvalidArgument naming its flag (exit 2).
core::Result<plot::PlotOptions> PictureOptions(const PlotCmdOptions& o) {
  plot::PlotOptions opts;
  opts.metric = o.metric;
  opts.vmin = o.vmin;
  opts.vmax = o.vmax;
  opts.xmin = o.xmin;
  opts.xmax = o.xmax;
  opts.vlevel = o.vlevel;
  if (!o.scale.empty()) {
    LS_ASSIGN_OR_RETURN(opts.scale, plot::ParseScale(o.scale, "--scale"));
    if (o.log && opts.scale != plot::Scale::kLog) {
      return core::InvalidArgument("--log", "contradicts --scale " + o.scale);
    }
  }
  if (o.log) opts.scale = plot::Scale::kLog;
  opts.width = o.width;
  opts.height = o.height;
  opts.title = o.title;
  LS_RETURN_IF_ERROR(plot::CheckOptions(opts));
  return opts;
}

int RunPlot(const PlotCmdOptions& o) {
  auto checked = PictureOptions(o);
  if (!checked.ok()) return Report(checked.status());
  if (o.surface.empty()) return RunPathPlot(o);
  auto surface = LoadSurface(o.surface, o.labels);
  if (!surface.ok()) return Report(surface.status());
  const io::Surface& s = *surface;
  std::vector<std::string> kind_names{o.kind.empty() ? (s.is_2d() ? "contour" : "1d") : o.kind};
  auto kinds = ExpandKinds(kind_names, s);
  if (!kinds.ok()) return Report(kinds.status());
  auto format = plot::FormatForPath(o.out);
  if (!format.ok()) return Report(format.status());

  plot::PlotData data;
  data.surface = &s;
  data.label = o.name.empty() ? DefaultLabel(o.surface, s) : o.name;
  std::vector<io::Surface> overlay_surfaces;
  overlay_surfaces.reserve(o.overlays.size());
  std::vector<std::string> overlay_labels;
  for (const std::string& spec : o.overlays) {
    const size_t eq = spec.find('=');
    const bool named = eq != std::string::npos && eq > 0 && !std::filesystem::exists(spec);
    const std::string file = named ? spec.substr(eq + 1) : spec;
    auto other = LoadSurface(file, o.labels);
    if (!other.ok()) return Report(other.status().WithContext("--overlay"));
    overlay_labels.push_back(named ? spec.substr(0, eq) : DefaultLabel(file, *other));
    overlay_surfaces.push_back(std::move(*other));
  }
  for (size_t i = 0; i < overlay_surfaces.size(); ++i) {
    data.overlays.push_back({&overlay_surfaces[i], overlay_labels[i]});
  }
  const bool wants_path = std::find(kinds->begin(), kinds->end(), plot::Kind::kTrajectory) != kinds->end();
  if (wants_path) {
    if (o.proj_file.empty()) {
      return Report(core::InvalidArgument("--proj-file", "--kind trajectory needs --proj-file P.h5"));
    }
    auto path = LoadPath(o.proj_file, o.dir_file, s);
    if (!path.ok()) return Report(path.status());
    if (!path->note.empty()) std::fprintf(stderr, "landscape: note: %s\n", path->note.c_str());
    data.trajectory = plot::Trajectory{path->x, path->y, path->explained_variance};
  } else if (!o.proj_file.empty() && o.kind != "all") {
    return Report(core::InvalidArgument("--proj-file", "applies to --kind trajectory only"));
  }
  if (o.kind == "all" && !o.proj_file.empty() && !wants_path) {
    auto path = LoadPath(o.proj_file, o.dir_file, s);
    if (!path.ok()) return Report(path.status());
    data.trajectory = plot::Trajectory{path->x, path->y, path->explained_variance};
    kinds->push_back(plot::Kind::kTrajectory);
  }

  const plot::PlotOptions& opts = *checked;
  if ((o.xmin || o.xmax) && s.is_2d()) {
    return Report(core::InvalidArgument("--xmin/--xmax", "apply to 1-D pictures; crop a 2-D surface with its grid"));
  }
  const bool several = kinds->size() > 1;
  // What needs the data (a log scale over values <= 0) fails before any picture is written.
  for (plot::Kind k : *kinds) {
    plot::PlotData d = data;
    if (several && k != plot::Kind::kCurve1d) d.overlays.clear();
    if (several && !plot::CheckKind(k, s).ok()) continue;
    core::Status ok = plot::CheckOptions(d, k, opts);
    if (!ok.ok()) return Report(ok);
  }
  for (plot::Kind k : *kinds) {
    if (several) {
      core::Status fits = plot::CheckKind(k, s);
      if (!fits.ok()) {
        std::fprintf(stderr, "landscape: skipping '%s': %s\n", plot::KindName(k), fits.message().c_str());
        continue;
      }
    }
    plot::PlotData d = data;
    if (k != plot::Kind::kTrajectory) d.trajectory.reset();
    if (several && k != plot::Kind::kCurve1d) d.overlays.clear();  // overlays belong to the 1-D picture
    const std::string out = several ? WithSuffix(o.out, plot::KindName(k)) : o.out;
    auto r = plot::Draw(d, k, opts, out);
    if (!r.ok()) return Report(r.status());
    std::fprintf(stderr, "landscape: wrote %s\n", out.c_str());
  }
  return kExitOk;
}

}  // namespace landscape::client
