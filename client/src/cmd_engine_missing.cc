// Built when the CLI has no LibTorch engine (a thin client for CI runners).
#include <cstdio>

#include "commands.h"
#include "exit_codes.h"

namespace landscape::client {

namespace {
int NotBuiltIn(const char* what) {
  std::fprintf(stderr,
               "landscape: '%s' is not built into this client (it was built without LibTorch); use a full build "
               "or 'landscape submit' to a server\n",
               what);
  return kExitUsage;
}
}  // namespace

bool HaveEngine() { return false; }
int RunLocal(const LocalOptions&) { return NotBuiltIn("local"); }
int RunTrain(const TrainCmdOptions&) { return NotBuiltIn("train"); }
int RunArchs() { return NotBuiltIn("archs"); }
int RunTrajectory(const LocalOptions&) { return NotBuiltIn("trajectory"); }
int RunHessian(const HessianCmdOptions&) { return NotBuiltIn("hessian"); }
void PrintTrajectory(const io::DirectionSet&, const io::Projection&) {}
int RunExportArch(const ExportArchOptions&) { return NotBuiltIn("export-arch"); }
int RunPackData(const PackDataOptions&) { return NotBuiltIn("pack-data"); }
core::Status PackSpecData(core::JobSpec*, const std::string&) {
  return core::Status(core::StatusCode::kUnimplemented, "this client has no engine to pack data directories");
}

}  // namespace landscape::client
