// landscape: the command-line client. Parses flags into option structs and
// calls the command functions (commands.h); the only file that knows CLI11
// besides job_flags.cc.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cmd_pictures.h"
#include "commands.h"
#include "completion.h"
#include "exit_codes.h"
#include "job_flags.h"
#include "plots.h"
#include "landscape/core/system.h"
#include "remote_commands.h"

using namespace landscape;
using namespace landscape::client;

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

// Levenshtein distance between a and b (insertions, deletions, substitutions).
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The candidate closest to `word`, or "" when none is within a third of its length (at least 2 edits).
std::string Closest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    const size_t d = EditDistance(word, c);
    if (d < best_d) best = c, best_d = d;
  }
  return best;
}

// A parse error as "landscape: <message>", plus "did you mean" for an unknown command or flag.
// `args` are the arguments in command-line order.
int ReportParseError(CLI::App& app, const CLI::ParseError& e, const std::vector<std::string>& args) {
  std::vector<CLI::App*> subs = app.get_subcommands([](const CLI::App*) { return true; });
  std::vector<std::string> names;
  for (CLI::App* s : subs) names.push_back(s->get_name());
  if (!args.empty() && args[0][0] != '-' && std::find(names.begin(), names.end(), args[0]) == names.end()) {
    const std::string near = Closest(args[0], names);
    std::fprintf(stderr, "landscape: unknown command '%s'%s\nlandscape: run 'landscape --help' for the commands\n",
                 args[0].c_str(), near.empty() ? "" : ("; did you mean '" + near + "'?").c_str());
    return kExitUsage;
  }
  std::fprintf(stderr, "landscape: %s\n", e.what());
  CLI::App* sub = nullptr;
  for (CLI::App* s : subs) if (!args.empty() && s->get_name() == args[0]) sub = s;
  if (sub == nullptr) return kExitUsage;
  std::vector<std::string> flags;
  for (const CLI::Option* o : sub->get_options()) {
    for (const std::string& n : o->get_lnames()) flags.push_back("--" + n);
  }
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string flag = args[i].substr(0, args[i].find('='));
    if (flag.rfind("--", 0) != 0 || std::find(flags.begin(), flags.end(), flag) != flags.end()) continue;
    const std::string near = Closest(flag, flags);
    std::fprintf(stderr, "landscape: unknown flag %s%s\n", flag.c_str(),
                 near.empty() ? "" : ("; did you mean " + near + "?").c_str());
  }
  std::fprintf(stderr, "landscape: run 'landscape %s --help' for its flags\n", sub->get_name().c_str());
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  static const char* kCompute[] = {"local", "train", "trajectory", "hessian"};
  if (argc > 1 && std::any_of(std::begin(kCompute), std::end(kCompute),
                              [&](const char* c) { return std::strcmp(argv[1], c) == 0; })) {
    core::PrepareComputeProcess(argv);
  }
  CLI::App app{"landscape: loss landscapes of neural networks (Li et al., NeurIPS 2018)", "landscape"};
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
  local_cmd->add_option("--device", local.device, "auto (CUDA when present, else CPU) | cpu | cuda | cuda:N | cuda:all, or a comma-separated list: one engine per entry, points shared out (cpu may repeat: the cores are split)")->capture_default_str();
  local_cmd->add_option("--threads", local.threads, "intra-op threads (default: the cores this process owns)")
      ->check(CLI::Range(0, 4096));
  local_cmd->add_flag("--no-optimize", local.no_optimize,
                      "evaluate on the model as loaded instead of a frozen, optimized copy per point");
  local_cmd->add_option("--precision", local.precision, "forward passes in fp32 | bf16 | fp16 (GPUs)")
      ->capture_default_str();
  local_cmd->add_option("--first-layer", local.first_layer,
                        "auto | on | off: compute the first layer once for the centre and each direction and "
                        "combine it per point (auto: when measured faster)")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  local_cmd->add_option("--data-parallel", local.data_parallel,
                        "auto | on | off: CPU: split a point's batches over one single-threaded lane per thread "
                        "instead of each operator over the threads (auto: when measured faster)")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  local_cmd->add_option("--onednn", local.onednn,
                        "auto | on | off: CPU, fp32 or bf16: run the convolutions on landscape's own oneDNN "
                        "primitives (Winograd 3x3 convolutions in fp32, ReLUs and residual additions fused; "
                        "values within 1e-4 of LibTorch's in fp32) instead of LibTorch's (auto: when measured "
                        "faster)")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  local_cmd->add_option("--cuda-graphs", local.cuda_graphs,
                        "auto | on | off: CUDA: one frozen graph for all points with its constants fitted to the "
                        "point (no freezing per point) and each split replayed as a captured CUDA graph (auto: "
                        "on CUDA devices when the set-up checks pass; on: also on CPUs, without CUDA graphs)")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  local_cmd->add_flag("--channels-last", local.channels_last, "NHWC activations (faster convolutions on GPUs)");
  local_cmd->add_flag("--auto-batch", local.auto_batch, "choose the evaluation batch size by measured throughput (instead of --batch-size)");
  local_cmd->add_option("--progress", local.progress, "auto | bar | lines | quiet")->capture_default_str();
  local_cmd->add_option("--save-interval", local.save_interval_s, "seconds between saves of the partial surface")
      ->capture_default_str();
  CLI::Option* local_plot_opt =
      local_cmd->add_option("--plot", local.plots, "draw pictures at the end: contour, filled, heat, 3d, 1d, hessian or all "
                                                   "(no kind: all)")
          ->expected(0, -1);

  // trajectory
  JobFlags traj_flags;
  LocalOptions traj;
  CLI::App* traj_cmd = app.add_subcommand(
      "trajectory", "PCA directions of a training run and the checkpoints' projections (no surface); with "
                    "--dir-file, the checkpoints projected onto that file's plane instead");
  AddJobFlags(traj_cmd, &traj_flags);
  traj_flags.checkpoints_onto_dir_file = true;
  traj_cmd->add_option("--out", traj.out, "output prefix: writes <out>.dirs.h5 and <out>.proj.h5")->required();
  traj_cmd->add_option("--device", traj.device, "auto (CUDA when present, else CPU) | cpu | cuda | cuda:N")->capture_default_str();
  traj_cmd->add_option("--threads", traj.threads, "intra-op threads")->check(CLI::Range(0, 4096));

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
  hess_cmd->add_option("--dir-out", hess.dir_out,
                       "write the two leading eigenvectors as a direction file (x, y), for local --dir-file");
  hess_cmd->add_option("--device", hess.device, "auto (CUDA when present, else CPU) | cpu | cuda | cuda:N")->capture_default_str();
  hess_cmd->add_option("--threads", hess.threads, "intra-op threads")->check(CLI::Range(0, 4096));

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
  train_cmd->add_option("--optimizer", train.optimizer, "sgd (momentum, Nesterov) | adam (as torch.optim.Adam)")
      ->check(CLI::IsMember({"sgd", "adam"}))
      ->capture_default_str();
  train_cmd->add_option("--momentum", train.momentum, "SGD momentum")->capture_default_str();
  train_cmd->add_option("--betas", train.betas, "Adam's beta1 beta2")->expected(2)->delimiter(',')->capture_default_str();
  train_cmd->add_option("--eps", train.eps, "Adam's epsilon")->capture_default_str();
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
  train_cmd->add_option("--loss", train.loss, "crossentropy | mse | regression (float targets)")->capture_default_str();
  train_cmd->add_option("--device", train.device, "auto (CUDA when present, else CPU) | cpu | cuda | cuda:N")->capture_default_str();
  train_cmd->add_option("--threads", train.threads, "intra-op threads (default: the cores this process owns)")
      ->check(CLI::Range(0, 4096));

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

  // pack-data
  PackDataOptions pack;
  DataFlags pack_flags;
  CLI::App* pack_cmd = app.add_subcommand(
      "pack-data", "write the samples a job evaluates from an idx:/cifar10: directory as one tensor file");
  AddDataFlags(pack_cmd, &pack_flags);
  pack_cmd->get_option("--data")->required()->description("idx:DIR | cifar10:DIR")->default_str("");
  pack_cmd->add_option("--out", pack.out, "tensor file to write (.pt)")->required();

  // plot, export, report: pictures and files from a surface (no engine needed)
  PlotCmdOptions plot;
  double plot_vmin = 0, plot_vmax = 0, plot_vlevel = 0, plot_xmin = 0, plot_xmax = 0;
  CLI::App* plot_cmd = app.add_subcommand("plot", "draw a picture of a surface file (PNG, SVG or PDF)");
  plot_cmd->add_option("surface", plot.surface,
                       "surface file (HDF5; ours or the reference's); without one, --proj-file draws the training "
                       "path alone");
  plot_cmd->add_option("--kind", plot.kind,
                       "contour | filled | heat | 3d | 1d | trajectory | hessian | all (default: contour for 2-D, "
                       "1d for 1-D; 'all' writes OUT_<kind>.EXT for each)");
  plot_cmd->add_option("--metric", plot.metric,
                       "train_loss | test_loss | train_acc | test_acc | train_err | test_err | eig_ratio | eig_ratio_signed | min_eig | "
                       "max_eig (default: train_loss, else test_loss)");
  CLI::Option* vmin_opt = plot_cmd->add_option("--vmin", plot_vmin, "lowest level / colour (default: the data's)");
  CLI::Option* xmin_opt = plot_cmd->add_option("--xmin", plot_xmin, "1d: the smallest α shown (default: the grid's)");
  CLI::Option* xmax_opt = plot_cmd->add_option("--xmax", plot_xmax, "1d: the largest α shown (default: the grid's)");
  CLI::Option* vmax_opt = plot_cmd->add_option("--vmax", plot_vmax, "highest level / colour (default: the data's)");
  CLI::Option* vlevel_opt =
      plot_cmd->add_option("--vlevel", plot_vlevel, "level spacing: levels arange(vmin, vmax, vlevel) as the "
                                                    "reference (default: about 16 round levels)");
  plot_cmd->add_option("--scale", plot.scale,
                       "auto | linear | log: colours and levels (2-D), the loss axis (1-D); auto: log for 2-D "
                       "values > 0 spanning over 100x or mostly in the lowest tenth (default: auto)");
  plot_cmd->add_flag("--log", plot.log, "the same as --scale log (the reference's --log)");
  plot_cmd->add_option("--proj-file", plot.proj_file, "trajectory: projection file (proj_xcoord, proj_ycoord)");
  plot_cmd->add_option("--dir-file", plot.dir_file,
                       "trajectory: PCA direction file for the axes' explained variance (default: the surface's)");
  plot_cmd->add_option("--overlay", plot.overlays, "1d: another 1-D surface on the same axes, FILE or LABEL=FILE "
                                                   "(repeatable)");
  plot_cmd->add_option("--name", plot.name, "1d: legend name of SURFACE (default: its spec name or file name)");
  plot_cmd->add_option("--label", plot.labels, "KEY=VALUE label shown in the footer (repeatable)");
  plot_cmd->add_option("--out", plot.out, "picture to write: .png, .svg or .pdf")->required();
  plot_cmd->add_option("--width", plot.width, "width in pixels (points for SVG/PDF)")->capture_default_str();
  plot_cmd->add_option("--height", plot.height, "height in pixels (points for SVG/PDF)")->capture_default_str();
  plot_cmd->add_option("--title", plot.title, "replaces the generated title's first line");

  ExportCmdOptions exp;
  CLI::App* export_file_cmd =
      app.add_subcommand("export", "write a surface as VTK PolyData (.vtp, ParaView), OBJ mesh, CSV or JSON summary");
  export_file_cmd->add_option("surface", exp.surface, "surface file (HDF5)")->required();
  export_file_cmd->add_option("--format", exp.format, "vtp | obj | csv | json (default: by the extension of --out)");
  export_file_cmd->add_option("--metric", exp.metric, "vtp/obj: the height (default: train_loss, else test_loss)");
  export_file_cmd->add_option("--zmax", exp.zmax, "vtp/obj: clip heights at zmax (0: no clipping)");
  export_file_cmd->add_flag("--log", exp.log, "vtp/obj: height ln(z + 0.1), after clipping (as h52vtp.py)");
  export_file_cmd->add_option("--interp", exp.interp, "vtp/obj: resample to N x N points by bicubic splines");
  export_file_cmd->add_option("--label", exp.labels, "KEY=VALUE label recorded in the file (repeatable)");
  export_file_cmd->add_option("--out", exp.out, "file to write")->required();

  ReportCmdOptions report;
  CLI::App* report_cmd = app.add_subcommand(
      "report", "write one self-contained HTML report (pictures, summary, gates) and exit 4 if a --fail-if gate fails");
  report_cmd->add_option("surface", report.surface, "surface file (HDF5)")->required();
  report_cmd->add_option("--out", report.out, "HTML file to write")->required();
  report_cmd->add_option("--json", report.json, "also write the JSON summary");
  report_cmd->add_option("--fail-if", report.fail_if,
                         "gate NAME OP NUMBER, e.g. 'max_loss_increase@0.5>0.3', 'nan>0', 'train_loss.min>1'; exit 4 "
                         "when true (repeatable)");
  report_cmd->add_option("--metric", report.metric, "the pictures' metric (default: train_loss, else test_loss)");
  report_cmd->add_option("--proj-file", report.proj_file, "add the trajectory picture from this projection file");
  report_cmd->add_option("--dir-file", report.dir_file, "PCA direction file for the trajectory's axes");
  report_cmd->add_option("--label", report.labels, "KEY=VALUE label (repeatable), e.g. commit=$GIT_SHA");
  report_cmd->add_option("--title", report.title, "the report's title");
  report_cmd->add_flag("--no-pictures", report.no_pictures, "tables only");

  // submit
  JobFlags submit_flags;
  SubmitOptions submit;
  CLI::App* submit_cmd = app.add_subcommand("submit", "submit a job to a landscape-server (uploads local files)");
  AddJobFlags(submit_cmd, &submit_flags);
  AddRemoteFlags(submit_cmd, &submit.remote);
  submit_cmd->add_flag("--data-as-path", submit.data_as_path,
                       "send an idx:/cifar10: directory as its path (workers read it) instead of uploading the "
                       "samples the job evaluates, packed");
  submit_cmd->add_flag("--watch", submit.watch, "follow the job to its end (exit 0 succeeded, 3 failed, 5 cancelled)");
  submit_cmd->add_option("--out", submit.out, "when the job succeeds, write its surface here (implies --watch)");
  submit_cmd->add_option("--dir-out", submit.dir_out, "direction file to write (default: <out>.dirs.h5)");
  submit_cmd->add_option("--csv", submit.csv, "also write the surface as CSV (implies --watch)");
  submit_cmd->add_option("--json", submit.json, "also write a JSON summary (implies --watch)");
  submit_cmd->add_option("--request-id", submit.request_id, "idempotency key: resubmitting it returns the same job");
  submit_cmd->add_option("--progress", submit.progress, "auto | bar | lines | quiet")->capture_default_str();
  submit_cmd->add_option("--reconnect-for", submit.reconnect_for_s, "seconds to keep reconnecting a dropped watch")
      ->capture_default_str();

  // watch
  WatchOptions watch;
  CLI::App* watch_cmd = app.add_subcommand("watch", "follow a job: progress, rate, ETA; resumes after disconnects");
  watch_cmd->add_option("job", watch.job, "jobs/{id} or {id}")->required();
  AddRemoteFlags(watch_cmd, &watch.remote);
  watch_cmd->add_option("--progress", watch.progress, "auto | bar | lines | quiet")->capture_default_str();
  watch_cmd->add_option("--reconnect-for", watch.reconnect_for_s, "seconds to keep reconnecting a dropped watch")
      ->capture_default_str();
  watch_cmd->add_flag("--json", watch.json, "print each event as one JSON object per line on stdout");

  // get
  GetOptions get;
  CLI::App* get_cmd = app.add_subcommand("get", "download a job's surface (partial while it runs) and directions");
  get_cmd->add_option("job", get.job, "jobs/{id} or {id}")->required();
  AddRemoteFlags(get_cmd, &get.remote);
  get_cmd->add_option("--out", get.out, "surface file to write (HDF5, the reference's layout)");
  get_cmd->add_option("--dir-out", get.dir_out, "direction file to write (default: <out>.dirs.h5)");
  get_cmd->add_option("--csv", get.csv, "write the surface as CSV (long form)");
  get_cmd->add_option("--json", get.json, "write a JSON summary");

  // list
  ListOptions list;
  CLI::App* list_cmd = app.add_subcommand("list", "list your jobs, newest first");
  AddRemoteFlags(list_cmd, &list.remote);
  list_cmd->add_option("--state", list.state, "QUEUED | PREPARING | RUNNING | SUCCEEDED | FAILED | CANCELLED");
  list_cmd->add_option("--label", list.labels, "KEY=VALUE the jobs must carry (repeatable)");
  list_cmd->add_option("--limit", list.limit, "jobs to show")->capture_default_str();
  list_cmd->add_flag("--json", list.json, "print the jobs as a JSON array, one object per job");

  // cancel
  CancelOptions cancel;
  CLI::App* cancel_cmd = app.add_subcommand("cancel", "cancel a queued or running job");
  cancel_cmd->add_option("job", cancel.job, "jobs/{id} or {id}")->required();
  AddRemoteFlags(cancel_cmd, &cancel.remote);

  // completion (hidden: no group): a shell's completion script from the tables above
  std::string completion_shell;
  CLI::App* completion_cmd = app.add_subcommand("completion", "print the bash or zsh completion script");
  completion_cmd->group("");
  completion_cmd->add_option("shell", completion_shell, "bash | zsh")->required()->check(CLI::IsMember({"bash", "zsh"}));

  if (argc == 1) {  // no command: the overview, on stdout, and the usage exit code
    std::fputs(app.help().c_str(), stdout);
    return kExitUsage;
  }
  std::vector<std::string> args = JoinNegativeValues(argc, argv);
  const std::vector<std::string> in_order = args;
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  } catch (const CLI::ParseError& e) {
    return ReportParseError(app, e, in_order);
  }

  if (local_cmd->parsed()) {
    auto spec = BuildJobSpec(local_flags, LocalLimits());
    if (!spec.ok()) return Report(spec.status());
    // A bare --plot means every picture that fits the surface.
    core::Status outs = CheckOutputPaths({{"--out", local.out}, {"--dir-out", local.dir_out},
                                          {"--csv", local.csv}, {"--json", local.json}});
    if (!outs.ok()) return Report(outs);
    local.plots.erase(std::remove(local.plots.begin(), local.plots.end(), std::string()), local.plots.end());
    if (local_plot_opt->count() > 0 && local.plots.empty()) local.plots = {"all"};
    core::Status kinds = CheckPlotKinds(local.plots);  // before the computation, not after
    if (!kinds.ok()) return Report(kinds);
    local.spec = std::move(*spec);
    return RunLocal(local);
  }
  if (traj_cmd->parsed()) {
    traj_flags.x = "0:0:1";
    traj_flags.y = "0:0:1";
    auto spec = BuildJobSpec(traj_flags, LocalLimits());
    if (!spec.ok()) return Report(spec.status());
    core::Status outs = CheckOutputPaths({{"--out", traj.out + ".dirs.h5"}});
    if (!outs.ok()) return Report(outs);
    traj.spec = std::move(*spec);
    return RunTrajectory(traj);
  }
  if (hess_cmd->parsed()) {
    hess_flags.x = "0:0:1";
    auto spec = BuildJobSpec(hess_flags, LocalLimits());
    if (!spec.ok()) return Report(spec.status());
    core::Status outs = CheckOutputPaths({{"--json", hess.json}, {"--dir-out", hess.dir_out}});
    if (!outs.ok()) return Report(outs);
    hess.spec = std::move(*spec);
    return RunHessian(hess);
  }

  if (submit_cmd->parsed()) {
    auto spec = BuildJobSpec(submit_flags, SubmitLimits());
    if (!spec.ok()) return Report(spec.status());
    core::Status outs = CheckOutputPaths({{"--out", submit.out}, {"--dir-out", submit.dir_out},
                                          {"--csv", submit.csv}, {"--json", submit.json}});
    if (!outs.ok()) return Report(outs);
    submit.spec = std::move(*spec);
    return RunSubmit(submit);
  }
  if (watch_cmd->parsed()) return RunWatch(watch);
  if (get_cmd->parsed()) {
    core::Status outs = CheckOutputPaths({{"--out", get.out}, {"--dir-out", get.dir_out}, {"--csv", get.csv},
                                          {"--json", get.json}});
    return outs.ok() ? RunGet(get) : Report(outs);
  }
  if (list_cmd->parsed()) return RunList(list);
  if (completion_cmd->parsed()) {
    std::fputs(CompletionScript(app, completion_shell).c_str(), stdout);
    return kExitOk;
  }
  if (cancel_cmd->parsed()) return RunCancel(cancel);
  if (train_cmd->parsed()) return RunTrain(train);
  if (archs_cmd->parsed()) return RunArchs();
  if (export_cmd->parsed()) return RunExportArch(export_arch);
  if (pack_cmd->parsed()) {
    auto data = BuildDataSpec(pack_flags);
    if (!data.ok()) return Report(data.status());
    pack.data = std::move(*data);
    return RunPackData(pack);
  }
  if (plot_cmd->parsed()) {
    if (vmin_opt->count()) plot.vmin = plot_vmin;
    if (vmax_opt->count()) plot.vmax = plot_vmax;
    if (vlevel_opt->count()) plot.vlevel = plot_vlevel;
    if (xmin_opt->count()) plot.xmin = plot_xmin;
    if (xmax_opt->count()) plot.xmax = plot_xmax;
    return RunPlot(plot);
  }
  if (export_file_cmd->parsed()) return RunExport(exp);
  if (report_cmd->parsed()) return RunReport(report);
  return kExitUsage;
}
