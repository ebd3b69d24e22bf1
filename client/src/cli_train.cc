// The command lines of `train`, `archs`, `export-arch` and `pack-data` (command_registry.h). The
// commands themselves are in cmd_train.cc and cmd_data.cc (or cmd_engine_missing.cc in a client built
// without the engine).
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "command_registry.h"
#include "commands.h"
#include "exit_codes.h"
#include "job_flags.h"
#include "landscape/engine/flags.h"

namespace landscape::client {

namespace {

// The optimizer's flags of `train`: --lr through --lr-decay.
void AddOptimizerFlags(CLI::App* cmd, TrainCmdOptions* train) {
  cmd->add_option("--lr", train->lr, "initial learning rate")->capture_default_str();
  cmd->add_option("--optimizer", train->optimizer, "sgd (momentum, Nesterov) | adam (as torch.optim.Adam)")
      ->check(CLI::IsMember({"sgd", "adam"}))
      ->capture_default_str();
  cmd->add_option("--momentum", train->momentum, "SGD momentum")->capture_default_str();
  cmd->add_option("--betas", train->betas, "Adam's beta1 beta2")->expected(2)->delimiter(',')->capture_default_str();
  cmd->add_option("--eps", train->eps, "Adam's epsilon")->capture_default_str();
  cmd->add_flag("--no-nesterov", train->no_nesterov, "plain momentum instead of Nesterov");
  cmd->add_option("--weight-decay", train->weight_decay, "L2 weight decay")->capture_default_str();
  cmd->add_option("--lr-steps", train->lr_steps,
                  "epochs after which lr *= lr-decay (default: 50%, 75%, 92% of the epochs, the paper's schedule)")
      ->delimiter(',');
  cmd->add_option("--lr-decay", train->lr_decay, "learning-rate decay factor")->capture_default_str();
}

}  // namespace

void AddTrainCommand(CLI::App& app, Commands* commands) {
  auto train = std::make_shared<TrainCmdOptions>();
  CLI::App* cmd = app.add_subcommand("train", "train a built-in architecture and save TorchScript checkpoints");
  cmd->add_option("--arch", train->arch, "architecture name (see 'landscape archs') or a TorchScript file")
      ->capture_default_str();
  cmd->add_option("--data", train->data, "fashion-mnist | mnist | idx:DIR | cifar10:DIR | FILE.pt")
      ->capture_default_str();
  cmd->add_option("--normalize", train->normalize, "auto | none | MEAN/STD")->capture_default_str();
  cmd->add_option("--max-samples", train->max_samples, "train on the first N samples (0 = all)");
  cmd->add_option("--epochs", train->epochs, "epochs")->capture_default_str();
  cmd->add_option("--batch-size", train->batch_size, "mini-batch size")->capture_default_str();
  AddOptimizerFlags(cmd, train.get());
  cmd->add_option("--save-every", train->save_every, "checkpoint every K epochs (plus 0, 1 and the last)")
      ->capture_default_str();
  cmd->add_option("--out", train->out, "output directory (model_<epoch>.pt, train_log.csv, train.json)")
      ->required();
  cmd->add_option("--seed", train->seed, "seed of initialization, shuffling and augmentation")
      ->capture_default_str();
  cmd->add_option("--augment", train->augment, "auto | none | crop | crop-flip")->capture_default_str();
  cmd->add_option("--eval-samples", train->eval_samples, "test samples evaluated per epoch (0 = all, -1 = none)")
      ->capture_default_str();
  cmd->add_option("--loss", train->loss, "crossentropy | mse | regression (float targets)")->capture_default_str();
  engine::AddEngineFlags(cmd, &train->engine, engine::kDeviceFlags | engine::kDataFlags);
  commands->push_back({cmd, [train]() { return RunTrain(*train); }, /*compute=*/true});
}

void AddArchsCommand(CLI::App& app, Commands* commands) {
  CLI::App* cmd = app.add_subcommand("archs", "list the built-in architectures");
  commands->push_back({cmd, []() { return RunArchs(); }});
}

void AddExportArchCommand(CLI::App& app, Commands* commands) {
  auto opts = std::make_shared<ExportArchOptions>();
  CLI::App* cmd =
      app.add_subcommand("export-arch", "write a freshly initialized built-in architecture as TorchScript");
  cmd->add_option("--arch", opts->arch, "architecture name")->required();
  cmd->add_option("--input", opts->input, "input shape CxHxW")->capture_default_str();
  cmd->add_option("--classes", opts->classes, "number of classes")->capture_default_str();
  cmd->add_option("--seed", opts->seed, "initialization seed")->capture_default_str();
  cmd->add_option("--out", opts->out, "TorchScript file to write")->required();
  commands->push_back({cmd, [opts]() { return RunExportArch(*opts); }});
}

void AddPackDataCommand(CLI::App& app, Commands* commands) {
  auto pack = std::make_shared<PackDataOptions>();
  auto flags = std::make_shared<DataFlags>();
  CLI::App* cmd = app.add_subcommand(
      "pack-data", "write the samples a job evaluates from an idx:/cifar10: directory as one tensor file");
  AddDataFlags(cmd, flags.get());
  cmd->get_option("--data")->required()->description("idx:DIR | cifar10:DIR")->default_str("");
  cmd->add_option("--out", pack->out, "tensor file to write (.pt)")->required();
  auto run = [pack, flags]() {
    auto data = BuildDataSpec(*flags);
    if (!data.ok()) return Report(data.status());
    pack->data = std::move(*data);
    return RunPackData(*pack);
  };
  commands->push_back({cmd, run});
}

}  // namespace landscape::client
