// `landscape plot`, `landscape export` and `landscape report`: what people look
// at, made from surface files (no LibTorch). cli_pictures.cc fills these structs.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace landscape::client {

struct PlotCmdOptions {
  std::string surface;                // SURFACE.h5 (ours or the reference's)
  std::string kind;                   // contour|filled|heat|3d|1d|trajectory|hessian|all; "" = contour (2-D) / 1d
  std::string metric;                 // "" = train_loss, else test_loss; also *_err, eig_ratio
  std::optional<double> vmin, vmax;   // colour/level range
  std::optional<double> xmin, xmax;   // 1-D: the α range shown
  std::optional<double> vlevel;       // level spacing (the reference's arange)
  std::string scale;                  // auto|linear|log; "" = auto (log when `log`)
  bool log = false;                   // --log: the same as --scale log
  std::string proj_file;              // trajectory: proj_xcoord/proj_ycoord
  std::string dir_file;               // trajectory: PCA direction file ("" = the surface's dir_file)
  std::vector<std::string> overlays;  // 1d: FILE or LABEL=FILE
  std::string name;                   // legend name of SURFACE ("" = its spec name or file stem)
  std::vector<std::string> labels;    // KEY=VALUE, added to the surface's labels
  std::string out;                    // F.png|.svg|.pdf; with --kind all: F_<kind>.png ...
  int width = 1000;
  int height = 750;
  std::string title;
};
int RunPlot(const PlotCmdOptions& opts);

struct ExportCmdOptions {
  std::string surface;
  std::string format;                // vtp|obj|csv|json; "" = by the extension of out
  std::string metric;                // vtp/obj: the height ("" = primary loss)
  double zmax = 0;                   // vtp/obj: clip at zmax (> 0)
  bool log = false;                  // vtp/obj: ln(z + 0.1)
  int interp = 0;                    // vtp/obj: resample to interp x interp (bicubic)
  std::vector<std::string> labels;   // KEY=VALUE
  std::string out;
};
int RunExport(const ExportCmdOptions& opts);

struct ReportCmdOptions {
  std::string surface;
  std::string out;                     // report.html
  std::string json;                    // also the JSON summary
  std::vector<std::string> fail_if;    // gates: exit 4 when one is crossed
  std::string metric;                  // the pictures' metric ("" = primary loss)
  std::string proj_file, dir_file;     // add a trajectory picture
  std::vector<std::string> labels;     // KEY=VALUE
  std::string title;
  bool no_pictures = false;
};
int RunReport(const ReportCmdOptions& opts);

}  // namespace landscape::client
