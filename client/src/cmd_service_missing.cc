// Built when the CLI has no gRPC service support (LANDSCAPE_BUILD_SERVICE=OFF).
#include <cstdio>

#include "exit_codes.h"
#include "remote_commands.h"

namespace landscape::client {

namespace {
int NotBuiltIn(const char* what) {
  std::fprintf(stderr,
               "landscape: '%s' is not built into this client (it was built without the service: "
               "LANDSCAPE_BUILD_SERVICE=OFF)\n",
               what);
  return kExitUsage;
}
}  // namespace

bool HaveService() { return false; }
int RunWatch(const WatchOptions&) { return NotBuiltIn("watch"); }
int RunGet(const GetOptions&) { return NotBuiltIn("get"); }
int RunSubmit(const SubmitOptions&) { return NotBuiltIn("submit"); }
int RunList(const ListOptions&) { return NotBuiltIn("list"); }
int RunCancel(const CancelOptions&) { return NotBuiltIn("cancel"); }

}  // namespace landscape::client
