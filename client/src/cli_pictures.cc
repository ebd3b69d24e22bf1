// The command lines of `plot`, `export` and `report` (command_registry.h): pictures and files made from
// a surface file, no engine needed. The commands themselves are in cmd_report.cc and cmd_export.cc.
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "cmd_pictures.h"
#include "command_registry.h"

namespace landscape::client {

namespace {

// `plot`'s optional numbers: each reaches PlotCmdOptions only when its flag was given.
struct PlotRanges {
  double vmin = 0, vmax = 0, vlevel = 0, xmin = 0, xmax = 0;
  CLI::Option *vmin_opt = nullptr, *vmax_opt = nullptr, *vlevel_opt = nullptr, *xmin_opt = nullptr,
              *xmax_opt = nullptr;
};

// --vmin, --xmin, --xmax, --vmax, --vlevel (in that order in the help).
void AddPlotRangeFlags(CLI::App* cmd, PlotRanges* r) {
  r->vmin_opt = cmd->add_option("--vmin", r->vmin, "lowest level / colour (default: the data's)");
  r->xmin_opt = cmd->add_option("--xmin", r->xmin, "1d: the smallest α shown (default: the grid's)");
  r->xmax_opt = cmd->add_option("--xmax", r->xmax, "1d: the largest α shown (default: the grid's)");
  r->vmax_opt = cmd->add_option("--vmax", r->vmax, "highest level / colour (default: the data's)");
  r->vlevel_opt = cmd->add_option("--vlevel", r->vlevel, "level spacing: levels arange(vmin, vmax, vlevel) as the "
                                                         "reference (default: about 16 round levels)");
}

}  // namespace

void AddPlotCommand(CLI::App& app, Commands* commands) {
  auto plot = std::make_shared<PlotCmdOptions>();
  auto ranges = std::make_shared<PlotRanges>();
  CLI::App* cmd = app.add_subcommand("plot", "draw a picture of a surface file (PNG, SVG or PDF)");
  cmd->add_option("surface", plot->surface,
                  "surface file (HDF5; ours or the reference's); without one, --proj-file draws the training "
                  "path alone");
  cmd->add_option("--kind", plot->kind,
                  "contour | filled | heat | 3d | 1d | trajectory | hessian | all (default: contour for 2-D, "
                  "1d for 1-D; 'all' writes OUT_<kind>.EXT for each)");
  cmd->add_option("--metric", plot->metric,
                  "train_loss | test_loss | train_acc | test_acc | train_err | test_err | eig_ratio | eig_ratio_signed | min_eig | "
                  "max_eig (default: train_loss, else test_loss)");
  AddPlotRangeFlags(cmd, ranges.get());
  cmd->add_option("--scale", plot->scale,
                  "auto | linear | log: colours and levels (2-D), the loss axis (1-D); auto: log for 2-D "
                  "values > 0 spanning over 100x or mostly in the lowest tenth (default: auto)");
  cmd->add_flag("--log", plot->log, "the same as --scale log (the reference's --log)");
  cmd->add_option("--proj-file", plot->proj_file, "trajectory: projection file (proj_xcoord, proj_ycoord)");
  cmd->add_option("--dir-file", plot->dir_file,
                  "trajectory: PCA direction file for the axes' explained variance (default: the surface's)");
  cmd->add_option("--overlay", plot->overlays, "1d: another 1-D surface on the same axes, FILE or LABEL=FILE "
                                               "(repeatable)");
  cmd->add_option("--name", plot->name, "1d: legend name of SURFACE (default: its spec name or file name)");
  cmd->add_option("--label", plot->labels, "KEY=VALUE label shown in the footer (repeatable)");
  cmd->add_option("--out", plot->out, "picture to write: .png, .svg or .pdf")->required();
  cmd->add_option("--width", plot->width, "width in pixels (points for SVG/PDF)")->capture_default_str();
  cmd->add_option("--height", plot->height, "height in pixels (points for SVG/PDF)")->capture_default_str();
  cmd->add_option("--title", plot->title, "replaces the generated title's first line");
  auto run = [plot, ranges]() {
    const PlotRanges& r = *ranges;
    if (r.vmin_opt->count()) plot->vmin = r.vmin;
    if (r.vmax_opt->count()) plot->vmax = r.vmax;
    if (r.vlevel_opt->count()) plot->vlevel = r.vlevel;
    if (r.xmin_opt->count()) plot->xmin = r.xmin;
    if (r.xmax_opt->count()) plot->xmax = r.xmax;
    return RunPlot(*plot);
  };
  commands->push_back({cmd, run});
}

void AddExportCommand(CLI::App& app, Commands* commands) {
  auto exp = std::make_shared<ExportCmdOptions>();
  CLI::App* cmd =
      app.add_subcommand("export", "write a surface as VTK PolyData (.vtp, ParaView), OBJ mesh, CSV or JSON summary");
  cmd->add_option("surface", exp->surface, "surface file (HDF5)")->required();
  cmd->add_option("--format", exp->format, "vtp | obj | csv | json (default: by the extension of --out)");
  cmd->add_option("--metric", exp->metric, "vtp/obj: the height (default: train_loss, else test_loss)");
  cmd->add_option("--zmax", exp->zmax, "vtp/obj: clip heights at zmax (0: no clipping)");
  cmd->add_flag("--log", exp->log, "vtp/obj: height ln(z + 0.1), after clipping (as h52vtp.py)");
  cmd->add_option("--interp", exp->interp, "vtp/obj: resample to N x N points by bicubic splines");
  cmd->add_option("--label", exp->labels, "KEY=VALUE label recorded in the file (repeatable)");
  cmd->add_option("--out", exp->out, "file to write")->required();
  commands->push_back({cmd, [exp]() { return RunExport(*exp); }});
}

void AddReportCommand(CLI::App& app, Commands* commands) {
  auto report = std::make_shared<ReportCmdOptions>();
  CLI::App* cmd = app.add_subcommand(
      "report", "write one self-contained HTML report (pictures, summary, gates) and exit 4 if a --fail-if gate fails");
  cmd->add_option("surface", report->surface, "surface file (HDF5)")->required();
  cmd->add_option("--out", report->out, "HTML file to write")->required();
  cmd->add_option("--json", report->json, "also write the JSON summary");
  cmd->add_option("--fail-if", report->fail_if,
                  "gate NAME OP NUMBER, e.g. 'max_loss_increase@0.5>0.3', 'nan>0', 'train_loss.min>1'; exit 4 "
                  "when true (repeatable)");
  cmd->add_option("--metric", report->metric, "the pictures' metric (default: train_loss, else test_loss)");
  cmd->add_option("--proj-file", report->proj_file, "add the trajectory picture from this projection file");
  cmd->add_option("--dir-file", report->dir_file, "PCA direction file for the trajectory's axes");
  cmd->add_option("--label", report->labels, "KEY=VALUE label (repeatable), e.g. commit=$GIT_SHA");
  cmd->add_option("--title", report->title, "the report's title");
  cmd->add_flag("--no-pictures", report->no_pictures, "tables only");
  commands->push_back({cmd, [report]() { return RunReport(*report); }});
}

}  // namespace landscape::client
