#include "exit_codes.h"

#include <cstdio>

namespace landscape::client {

int ExitCodeFor(const core::Status& s) {
  using core::StatusCode;
  switch (s.code()) {
    case StatusCode::kOk: return kExitOk;
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kAlreadyExists:
    case StatusCode::kResourceExhausted:  // over a limit: a smaller grid, batch or file would do
    case StatusCode::kDataLoss:           // a file given that is not what it should be (not HDF5, truncated, ...)
    case StatusCode::kUnimplemented: return kExitUsage;
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied: return kExitNoPermission;
    case StatusCode::kUnavailable: return kExitUnreachable;
    case StatusCode::kDeadlineExceeded: return kExitDeadline;
    case StatusCode::kCancelled: return kExitCancelled;
    case StatusCode::kAborted:
    case StatusCode::kInternal: return kExitRuntime;
  }
  return kExitRuntime;
}

int Report(const core::Status& s) {
  if (s.ok()) return kExitOk;
  std::fprintf(stderr, "landscape: error: %s\n", s.ToString().c_str());
  return ExitCodeFor(s);
}

}  // namespace landscape::client
