// The command lines of `submit`, `watch`, `get`, `list` and `cancel` (command_registry.h): jobs on a
// landscape-server. The commands themselves are in cmd_remote.cc (or cmd_service_missing.cc in a client
// built without the service).
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "command_registry.h"
#include "exit_codes.h"
#include "job_flags.h"
#include "remote_commands.h"

namespace landscape::client {

namespace {

// --server/--token (also from the environment) and friends, for every remote command.
void AddRemoteFlags(CLI::App* cmd, RemoteOptions* r) {
  cmd->add_option("--server", r->server, "HOST:PORT of a landscape-server")
      ->envname("LANDSCAPE_SERVER")
      ->capture_default_str();
  cmd->add_option("--token", r->token, "bearer token (tokens file of the server)")->envname("LANDSCAPE_TOKEN");
  cmd->add_flag("--tls", r->tls, "connect with TLS (system roots unless --ca)");
  cmd->add_option("--ca", r->ca_file, "PEM root certificates for TLS (implies --tls)");
  cmd->add_option("--timeout", r->timeout_s, "seconds each request may take")->capture_default_str();
}

}  // namespace

void AddSubmitCommand(CLI::App& app, Commands* commands) {
  auto flags = std::make_shared<JobFlags>();
  auto submit = std::make_shared<SubmitOptions>();
  CLI::App* cmd = app.add_subcommand("submit", "submit a job to a landscape-server (uploads local files)");
  AddJobFlags(cmd, flags.get());
  AddRemoteFlags(cmd, &submit->remote);
  cmd->add_flag("--data-as-path", submit->data_as_path,
                "send an idx:/cifar10: directory as its path (workers read it) instead of uploading the "
                "samples the job evaluates, packed");
  cmd->add_flag("--watch", submit->watch, "follow the job to its end (exit 0 succeeded, 3 failed, 5 cancelled)");
  cmd->add_option("--out", submit->out, "when the job succeeds, write its surface here (implies --watch)");
  cmd->add_option("--dir-out", submit->dir_out, "direction file to write (default: <out>.dirs.h5)");
  cmd->add_option("--csv", submit->csv, "also write the surface as CSV (implies --watch)");
  cmd->add_option("--json", submit->json, "also write a JSON summary (implies --watch)");
  cmd->add_option("--request-id", submit->request_id, "idempotency key: resubmitting it returns the same job");
  cmd->add_option("--progress", submit->progress, "auto | bar | lines | quiet")->capture_default_str();
  cmd->add_option("--reconnect-for", submit->reconnect_for_s, "seconds to keep reconnecting a dropped watch")
      ->capture_default_str();
  auto run = [flags, submit]() {
    auto spec = BuildJobSpec(*flags, SubmitLimits());
    if (!spec.ok()) return Report(spec.status());
    core::Status outs = CheckOutputPaths({{"--out", submit->out}, {"--dir-out", submit->dir_out},
                                          {"--csv", submit->csv}, {"--json", submit->json}});
    if (!outs.ok()) return Report(outs);
    submit->spec = std::move(*spec);
    return RunSubmit(*submit);
  };
  commands->push_back({cmd, run});
}

void AddWatchCommand(CLI::App& app, Commands* commands) {
  auto watch = std::make_shared<WatchOptions>();
  CLI::App* cmd = app.add_subcommand("watch", "follow a job: progress, rate, ETA; resumes after disconnects");
  cmd->add_option("job", watch->job, "jobs/{id} or {id}")->required();
  AddRemoteFlags(cmd, &watch->remote);
  cmd->add_option("--progress", watch->progress, "auto | bar | lines | quiet")->capture_default_str();
  cmd->add_option("--reconnect-for", watch->reconnect_for_s, "seconds to keep reconnecting a dropped watch")
      ->capture_default_str();
  cmd->add_flag("--json", watch->json, "print each event as one JSON object per line on stdout");
  commands->push_back({cmd, [watch]() { return RunWatch(*watch); }});
}

void AddGetCommand(CLI::App& app, Commands* commands) {
  auto get = std::make_shared<GetOptions>();
  CLI::App* cmd = app.add_subcommand("get", "download a job's surface (partial while it runs) and directions");
  cmd->add_option("job", get->job, "jobs/{id} or {id}")->required();
  AddRemoteFlags(cmd, &get->remote);
  cmd->add_option("--out", get->out, "surface file to write (HDF5, the reference's layout)");
  cmd->add_option("--dir-out", get->dir_out, "direction file to write (default: <out>.dirs.h5)");
  cmd->add_option("--csv", get->csv, "write the surface as CSV (long form)");
  cmd->add_option("--json", get->json, "write a JSON summary");
  auto run = [get]() {
    core::Status outs = CheckOutputPaths({{"--out", get->out}, {"--dir-out", get->dir_out}, {"--csv", get->csv},
                                          {"--json", get->json}});
    return outs.ok() ? RunGet(*get) : Report(outs);
  };
  commands->push_back({cmd, run});
}

void AddListCommand(CLI::App& app, Commands* commands) {
  auto list = std::make_shared<ListOptions>();
  CLI::App* cmd = app.add_subcommand("list", "list your jobs, newest first");
  AddRemoteFlags(cmd, &list->remote);
  cmd->add_option("--state", list->state, "QUEUED | PREPARING | RUNNING | SUCCEEDED | FAILED | CANCELLED");
  cmd->add_option("--label", list->labels, "KEY=VALUE the jobs must carry (repeatable)");
  cmd->add_option("--limit", list->limit, "jobs to show")->capture_default_str();
  cmd->add_flag("--json", list->json, "print the jobs as a JSON array, one object per job");
  commands->push_back({cmd, [list]() { return RunList(*list); }});
}

void AddCancelCommand(CLI::App& app, Commands* commands) {
  auto cancel = std::make_shared<CancelOptions>();
  CLI::App* cmd = app.add_subcommand("cancel", "cancel a queued or running job");
  cmd->add_option("job", cancel->job, "jobs/{id} or {id}")->required();
  AddRemoteFlags(cmd, &cancel->remote);
  commands->push_back({cmd, [cancel]() { return RunCancel(*cancel); }});
}

}  // namespace landscape::client
