// The command lines of `local`, `trajectory` and `hessian` (command_registry.h): their flags, and the
// checks of those flags that come before any work. The computations are in cmd_local.cc and
// cmd_analysis.cc (or cmd_engine_missing.cc in a client built without the engine).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <memory>
#include <string>

#include "command_registry.h"
#include "commands.h"
#include "exit_codes.h"
#include "job_flags.h"
#include "landscape/engine/flags.h"
#include "plots.h"

namespace landscape::client {

void AddLocalCommand(CLI::App& app, Commands* commands) {
  auto flags = std::make_shared<JobFlags>();
  auto local = std::make_shared<LocalOptions>();
  CLI::App* cmd = app.add_subcommand("local", "compute a surface in this process (no server, no Redis)");
  AddJobFlags(cmd, flags.get());
  cmd->add_option("--out", local->out, "surface file to write (HDF5, the reference's layout); resumed if it exists")
      ->required();
  cmd->add_option("--dir-out", local->dir_out, "direction file to write (default: <out>.dirs.h5)");
  cmd->add_option("--csv", local->csv, "also write the surface as CSV (long form)");
  cmd->add_option("--json", local->json, "also write a JSON summary");
  cmd->add_flag("--overwrite", local->overwrite, "recompute instead of resuming an existing --out");
  engine::AddEngineFlags(cmd, &local->engine, engine::kAllEngineFlags | engine::kDeviceListFlag);
  cmd->add_option("--progress", local->progress, "auto | bar | lines | quiet")->capture_default_str();
  cmd->add_option("--save-interval", local->save_interval_s, "seconds between saves of the partial surface")
      ->capture_default_str();
  CLI::Option* plot_opt =
      cmd->add_option("--plot", local->plots, "draw pictures at the end: contour, filled, heat, 3d, 1d, hessian or all "
                                              "(no kind: all)")
          ->expected(0, -1);
  auto run = [flags, local, plot_opt]() {
    auto spec = BuildJobSpec(*flags, LocalLimits());
    if (!spec.ok()) return Report(spec.status());
    core::Status outs = CheckOutputPaths({{"--out", local->out}, {"--dir-out", local->dir_out},
                                          {"--csv", local->csv}, {"--json", local->json}});
    if (!outs.ok()) return Report(outs);
    // A bare --plot means every picture that fits the surface.
    std::vector<std::string>& plots = local->plots;
    plots.erase(std::remove(plots.begin(), plots.end(), std::string()), plots.end());
    if (plot_opt->count() > 0 && plots.empty()) plots = {"all"};
    core::Status kinds = CheckPlotKinds(plots);  // before the computation, not after
    if (!kinds.ok()) return Report(kinds);
    local->spec = std::move(*spec);
    return RunLocal(*local);
  };
  commands->push_back({cmd, run, /*compute=*/true});
}

void AddTrajectoryCommand(CLI::App& app, Commands* commands) {
  auto flags = std::make_shared<JobFlags>();
  auto traj = std::make_shared<LocalOptions>();
  CLI::App* cmd = app.add_subcommand(
      "trajectory", "PCA directions of a training run and the checkpoints' projections (no surface); with "
                    "--dir-file, the checkpoints projected onto that file's plane instead");
  AddJobFlags(cmd, flags.get());
  flags->checkpoints_onto_dir_file = true;
  cmd->add_option("--out", traj->out, "output prefix: writes <out>.dirs.h5 and <out>.proj.h5")->required();
  engine::AddEngineFlags(cmd, &traj->engine, engine::kAnalysisEngineFlags);
  auto run = [flags, traj]() {
    flags->x = "0:0:1";
    flags->y = "0:0:1";
    auto spec = BuildJobSpec(*flags, LocalLimits());
    if (!spec.ok()) return Report(spec.status());
    core::Status outs = CheckOutputPaths({{"--out", traj->out + ".dirs.h5"}});
    if (!outs.ok()) return Report(outs);
    traj->spec = std::move(*spec);
    return RunTrajectory(*traj);
  };
  commands->push_back({cmd, run, /*compute=*/true});
}

void AddHessianCommand(CLI::App& app, Commands* commands) {
  auto flags = std::make_shared<JobFlags>();
  auto hess = std::make_shared<HessianCmdOptions>();
  CLI::App* cmd =
      app.add_subcommand("hessian", "Hessian scalars at the model: top-k eigenvalues, lambda_min, trace (Hutchinson)");
  AddJobFlags(cmd, flags.get());
  cmd->add_option("--top-k", hess->top_k, "number of largest eigenvalues")->capture_default_str();
  cmd->add_option("--trace-samples", hess->trace_samples, "Hutchinson samples (0 = no trace)")
      ->capture_default_str();
  cmd->add_option("--trace-seed", hess->seed, "seed of the Hutchinson vectors")->capture_default_str();
  cmd->add_option("--json", hess->json, "write the scalars as JSON");
  cmd->add_option("--dir-out", hess->dir_out,
                  "write the two leading eigenvectors as a direction file (x, y), for local --dir-file");
  engine::AddEngineFlags(cmd, &hess->engine, engine::kAnalysisEngineFlags);
  auto run = [flags, hess]() {
    flags->x = "0:0:1";
    auto spec = BuildJobSpec(*flags, LocalLimits());
    if (!spec.ok()) return Report(spec.status());
    core::Status outs = CheckOutputPaths({{"--json", hess->json}, {"--dir-out", hess->dir_out}});
    if (!outs.ok()) return Report(outs);
    hess->spec = std::move(*spec);
    return RunHessian(*hess);
  };
  commands->push_back({cmd, run, /*compute=*/true});
}

}  // namespace landscape::client
