// The CLI's exit codes (docs/design.md §6) and the one mapping from Status to them.
#pragma once

#include "landscape/core/status.h"

namespace landscape::client {

enum ExitCode : int {
  kExitOk = 0,
  kExitRuntime = 1,      // a runtime error (I/O, internal)
  kExitUsage = 2,        // bad flags or bad input (missing file, corrupt model, data that do not fit)
  kExitJobFailed = 3,    // a remote job ended FAILED
  kExitGateFailed = 4,   // a --fail-if gate was crossed
  kExitCancelled = 5,    // the job was cancelled
  kExitInterrupted = 130,  // SIGINT; the work done so far is saved
  kExitUnreachable = 69, // the server cannot be reached (EX_UNAVAILABLE)
  kExitDeadline = 75,    // a deadline passed (EX_TEMPFAIL)
  kExitNoPermission = 77,  // UNAUTHENTICATED or PERMISSION_DENIED: a missing or wrong token (EX_NOPERM)
};

/// The exit code for a failed Status (kExitOk for OK).
int ExitCodeFor(const core::Status& s);

/// Prints "landscape: <message>" to stderr and returns ExitCodeFor(s).
int Report(const core::Status& s);

}  // namespace landscape::client
