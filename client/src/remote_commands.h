// The commands that talk to a landscape-server: submit, watch, get, list,
// cancel. Option structs only: no gRPC in this header (cli_remote.cc includes it).
#pragma once

#include <string>
#include <vector>

#include "landscape/core/spec.h"

namespace landscape::client {

/// Whether this build has the remote commands (LANDSCAPE_BUILD_SERVICE).
bool HaveService();

struct RemoteOptions {
  std::string server = "127.0.0.1:50051";  // HOST:PORT; also $LANDSCAPE_SERVER
  std::string token;                       // bearer token; also $LANDSCAPE_TOKEN
  bool tls = false;                        // connect with TLS
  std::string ca_file;                     // PEM roots for TLS (default: the system's)
  double timeout_s = 60;                   // deadline of each request (not of a whole watch)
};

struct WatchOptions {
  RemoteOptions remote;
  std::string job;                // jobs/{id} or {id}
  std::string progress = "auto";  // auto | bar | lines | quiet
  double reconnect_for_s = 300;   // keep reconnecting (with the last cursor) this long after a dropped stream
  bool json = false;              // one JSON object per event on stdout (no bar, no state lines)
};
/// Follows the job to its end: 0 succeeded, 3 failed, 5 cancelled.
int RunWatch(const WatchOptions& opts);

struct GetOptions {
  RemoteOptions remote;
  std::string job;
  std::string out;      // surface file (.h5, the reference's layout)
  std::string dir_out;  // direction file; "" = <out>.dirs.h5
  std::string csv;      // optional CSV (long form)
  std::string json;     // optional JSON summary
};
/// Downloads the surface (partial if the job has not succeeded) and the direction file.
int RunGet(const GetOptions& opts);

struct SubmitOptions {
  RemoteOptions remote;
  core::JobSpec spec;      // local paths in it are uploaded and replaced by artifact:<sha256>
  bool data_as_path = false;  // idx:/cifar10: directories: send the path (workers read it), not the packed samples
  std::string request_id;  // "" = a fresh one (retries of this submit still reuse it)
  int priority = 0;        // among the tenant's own jobs: higher first ([-100, 100])
  bool watch = false;      // then follow the job to its end
  std::string out, dir_out, csv, json;  // with --out: also download the surface (implies --watch)
  std::string progress = "auto";
  double reconnect_for_s = 300;
};
/// Prints the job name on stdout. Exit code as RunWatch's with --watch.
int RunSubmit(const SubmitOptions& opts);

struct ListOptions {
  RemoteOptions remote;
  std::string state;                // QUEUED | PREPARING | RUNNING | SUCCEEDED | FAILED | CANCELLED
  std::vector<std::string> labels;  // KEY=VALUE
  int limit = 50;                   // jobs to show (newest first)
  bool json = false;                // a JSON array of jobs (one object each) instead of the table
};
int RunList(const ListOptions& opts);

struct CancelOptions {
  RemoteOptions remote;
  std::string job;
};
int RunCancel(const CancelOptions& opts);

}  // namespace landscape::client
