// landscape: the command-line client. Parses flags into option structs and
// calls the command functions (commands.h); the only file that knows CLI11
// besides job_flags.cc.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "commands.h"
#include "exit_codes.h"
#include "job_flags.h"
#include "landscape/core/system.h"

using namespace landscape;
using namespace landscape::client;

int main(int argc, char** argv) {
  static const char* kCompute[] = {"local", "train", "trajectory", "hessian"};
  if (argc > 1 && std::any_of(std::begin(kCompute), std::end(kCompute),
                              [&](const char* c) { return std::strcmp(argv[1], c) == 0; })) {
    core::PrepareComputeProcess(argv);
  }
  CLI::App app{"landscape: loss landscapes of neural networks (Li et al., NeurIPS 2018)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("landscape ") + LANDSCAPE_VERSION);

  // local
  JobFlags local_flags;
  LocalOptions local;
  CLI::App* local_cmd = app.add_subcommand("local", "compute a surface in this process (no server, no Redis)");
  AddJobFlags(local_cmd, &local_flags);
  local_cmd->add_option("--out", local.out, "surface file to write (HDF5, the reference's layout); resumed if it exists")
      ->required();
  local_cmd->add_option("--dir-out", local.dir_out, "direction file to write (default: <out>.dirs.h5)");
  local_cmd->add_option("--csv", local.csv, "also write the surface as CSV (long form)");
  local_cmd->add_option("--json", local.json, "also write a JSON summary");
  local_cmd->add_flag("--overwrite", local.overwrite, "recompute instead of resuming an existing --out");
  local_cmd->add_option("--device", local.device, "cpu | cuda | cuda:N")->capture_default_str();
  local_cmd->add_option("--threads", local.threads, "intra-op threads (default: the cores this process owns)");
  local_cmd->add_flag("--no-optimize", local.no_optimize,
                      "evaluate on the model as loaded instead of a frozen, optimized copy per point");
  local_cmd->add_option("--precision", local.precision, "forward passes in fp32 | bf16 | fp16 (GPUs)")
      ->capture_default_str();
  local_cmd->add_flag("--channels-last", local.channels_last, "NHWC activations (faster convolutions on GPUs)");
  local_cmd->add_flag("--auto-batch", local.auto_batch, "CUDA: choose the batch size with the best throughput");
  local_cmd->add_option("--progress", local.progress, "auto | bar | lines | quiet")->capture_default_str();
  local_cmd->add_option("--save-interval", local.save_interval_s, "seconds between saves of the partial surface")
      ->capture_default_str();
  local_cmd->add_option("--plot", local.plots, "draw pictures at the end: contour, filled, heat, 3d, 1d or all")
      ->expected(0, -1);

  // trajectory
  JobFlags traj_flags;
  LocalOptions traj;
  CLI::App* traj_cmd = app.add_subcommand(
      "trajectory", "PCA directions of a training run and the checkpoints' projections (no surface)");
  AddJobFlags(traj_cmd, &traj_flags);
  traj_cmd->add_option("--out", traj.out, "output prefix: writes <out>.dirs.h5 and <out>.proj.h5")->required();
  traj_cmd->add_option("--device", traj.device, "cpu | cuda | cuda:N")->capture_default_str();
  traj_cmd->add_option("--threads", traj.threads, "intra-op threads");

  // hessian
  JobFlags hess_flags;
  HessianCmdOptions hess;
  CLI::App* hess_cmd =
      app.add_subcommand("hessian", "Hessian scalars at the model: top-k eigenvalues, lambda_min, trace (Hutchinson)");
  AddJobFlags(hess_cmd, &hess_flags);
  hess_cmd->add_option("--top-k", hess.top_k, "number of largest eigenvalues")->capture_default_str();
  hess_cmd->add_option("--trace-samples", hess.trace_samples, "Hutchinson samples (0 = no trace)")
      ->capture_default_str();
  hess_cmd->add_option("--trace-seed", hess.seed, "seed of the Hutchinson vectors")->capture_default_str();
  hess_cmd->add_option("--json", hess.json, "write the scalars as JSON");
  hess_cmd->add_option("--device", hess.device, "cpu | cuda | cuda:N")->capture_default_str();
  hess_cmd->add_option("--threads", hess.threads, "intra-op threads");

  // train
  TrainCmdOptions train;
  CLI::App* train_cmd = app.add_subcommand("train", "train a built-in architecture and save TorchScript checkpoints");
  train_cmd->add_option("--arch", train.arch, "architecture name (see 'landscape archs') or a TorchScript file")
      ->capture_default_str();
  train_cmd->add_option("--data", train.data, "fashion-mnist | mnist | idx:DIR | cifar10:DIR | FILE.pt")
      ->capture_default_str();
  train_cmd->add_option("--normalize", train.normalize, "auto | none | MEAN/STD")->capture_default_str();
  train_cmd->add_option("--max-samples", train.max_samples, "train on the first N samples (0 = all)");
  train_cmd->add_option("--epochs", train.epochs, "epochs")->capture_default_str();
  train_cmd->add_option("--batch-size", train.batch_size, "mini-batch size")->capture_default_str();
  train_cmd->add_option("--lr", train.lr, "initial learning rate")->capture_default_str();
  train_cmd->add_option("--momentum", train.momentum, "SGD momentum")->capture_default_str();
  train_cmd->add_flag("--no-nesterov", train.no_nesterov, "plain momentum instead of Nesterov");
  train_cmd->add_option("--weight-decay", train.weight_decay, "L2 weight decay")->capture_default_str();
  train_cmd->add_option("--lr-steps", train.lr_steps,
                        "epochs after which lr *= lr-decay (default: 50%, 75%, 92% of the epochs, the paper's schedule)")
      ->delimiter(',');
  train_cmd->add_option("--lr-decay", train.lr_decay, "learning-rate decay factor")->capture_default_str();
  train_cmd->add_option("--save-every", train.save_every, "checkpoint every K epochs (plus 0, 1 and the last)")
      ->capture_default_str();
  train_cmd->add_option("--out", train.out, "output directory (model_<epoch>.pt, train_log.csv, train.json)")
      ->required();
  train_cmd->add_option("--seed", train.seed, "seed of initialization, shuffling and augmentation")
      ->capture_default_str();
  train_cmd->add_option("--augment", train.augment, "auto | none | crop | crop-flip")->capture_default_str();
  train_cmd->add_option("--eval-samples", train.eval_samples, "test samples evaluated per epoch (0 = all, -1 = none)")
      ->capture_default_str();
  train_cmd->add_option("--loss", train.loss, "crossentropy | mse")->capture_default_str();
  train_cmd->add_option("--device", train.device, "cpu | cuda | cuda:N")->capture_default_str();
  train_cmd->add_option("--threads", train.threads, "intra-op threads (default: the cores this process owns)");

  // archs, export-arch
  CLI::App* archs_cmd = app.add_subcommand("archs", "list the built-in architectures");
  ExportArchOptions export_arch;
  CLI::App* export_cmd =
      app.add_subcommand("export-arch", "write a freshly initialized built-in architecture as TorchScript");
  export_cmd->add_option("--arch", export_arch.arch, "architecture name")->required();
  export_cmd->add_option("--input", export_arch.input, "input shape CxHxW")->capture_default_str();
  export_cmd->add_option("--classes", export_arch.classes, "number of classes")->capture_default_str();
  export_cmd->add_option("--seed", export_arch.seed, "initialization seed")->capture_default_str();
  export_cmd->add_option("--out", export_arch.out, "TorchScript file to write")->required();

  std::vector<std::string> args = JoinNegativeValues(argc, argv);
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }

  if (local_cmd->parsed()) {
    auto spec = BuildJobSpec(local_flags);
    if (!spec.ok()) return Report(spec.status());
    local.spec = std::move(*spec);
    return RunLocal(local);
  }
  if (traj_cmd->parsed()) {
    traj_flags.x = "0:0:1";
    traj_flags.y = "0:0:1";
    auto spec = BuildJobSpec(traj_flags);
    if (!spec.ok()) return Report(spec.status());
    traj.spec = std::move(*spec);
    return RunTrajectory(traj);
  }
  if (hess_cmd->parsed()) {
    hess_flags.x = "0:0:1";
    auto spec = BuildJobSpec(hess_flags);
    if (!spec.ok()) return Report(spec.status());
    hess.spec = std::move(*spec);
    return RunHessian(hess);
  }
  if (train_cmd->parsed()) return RunTrain(train);
  if (archs_cmd->parsed()) return RunArchs();
  if (export_cmd->parsed()) return RunExportArch(export_arch);
  return kExitUsage;
}
