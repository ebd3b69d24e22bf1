// Built when PLplot is missing (LANDSCAPE_WITH_PLOTS=OFF): no pictures, and
// every command that would draw says so. Exports and reports still work.
#include <cstdio>

#include "cmd_pictures.h"
#include "exit_codes.h"
#include "plots.h"

namespace landscape::client {

namespace {
core::Status NoPictures(const char* field) {
  return core::Status(core::StatusCode::kUnimplemented,
                      "pictures are not built into this landscape (it was built without PLplot: install "
                      "libplplot-dev and plplot-driver-cairo and rebuild)",
                      field);
}
}  // namespace

bool HavePictures() { return false; }

core::Status CheckPlotKinds(const std::vector<std::string>& kinds) {
  return kinds.empty() ? core::Status::Ok() : NoPictures("--plot");
}

core::Status DrawDefaultPlots(const std::string&, const io::Surface&, const std::vector<std::string>&) {
  return NoPictures("--plot");
}

std::vector<ReportPicture> ReportPictures(const io::Surface&, const std::string&, const std::string&,
                                          const std::string&) {
  return {{"pictures", "", NoPictures("").message()}};
}

int RunPlot(const PlotCmdOptions&) { return Report(NoPictures("plot")); }

}  // namespace landscape::client
