// The `landscape` subcommands, each a function over its own options struct.
// The command lines (cli_*.cc, command_registry.h) fill these structs; nothing here parses argv.
#pragma once

#include <string>
#include <vector>

#include "landscape/core/spec.h"
#include "landscape/engine/options.h"
#include "landscape/io/hdf5_files.h"

namespace landscape::client {

/// Whether this build has the LibTorch engine (local, train).
bool HaveEngine();

struct LocalOptions {
  core::JobSpec spec;
  std::string out;          // surface file (.h5), required
  std::string dir_out;      // direction file to write; "" = <out>.dirs.h5 (unused with --dir-file)
  std::string csv;          // optional CSV (long form)
  std::string json;         // optional JSON summary
  bool overwrite = false;   // ignore an existing surface file instead of resuming it
  /// The engine's flags (landscape/engine/flags.h). Its device is `local`'s comma-separated list of
  /// devices, one engine per entry; trajectory uses only the device, threads, data root and cuDNN's mode.
  landscape::engine::EngineOptions engine;
  std::string progress = "auto";  // auto | bar | lines | quiet
  double save_interval_s = 10;    // rewrite the surface file at most this often while computing
  std::vector<std::string> plots; // picture kinds to draw at the end (issue "pictures")
};
int RunLocal(const LocalOptions& opts);

/// `landscape trajectory`: PCA directions of a training run and every
/// checkpoint's projection, written as <out>.dirs.h5 and <out>.proj.h5, without
/// a surface (then: landscape local --dir-file <out>.dirs.h5 --x .. --y ..).
int RunTrajectory(const LocalOptions& opts);

/// `landscape hessian`: eigen-analysis at the centre for CI dashboards: top-k
/// eigenvalues, λmin, and the Hessian trace (Hutchinson) with standard errors.
struct HessianCmdOptions {
  core::JobSpec spec;
  int64_t top_k = 5;
  int64_t trace_samples = 30;
  uint64_t seed = 0;
  std::string json;
  std::string dir_out;  // the two leading eigenvectors as a direction file ("" = none)
  landscape::engine::EngineOptions engine;  // the device, threads, data root and cuDNN's mode
};
int RunHessian(const HessianCmdOptions& opts);

/// Prints a PCA trajectory: explained variance, each checkpoint's coordinates,
/// distance from the plane and losses, and ranges that cover the path.
void PrintTrajectory(const io::DirectionSet& dirs, const io::Projection& p);

struct TrainCmdOptions {
  std::string arch = "cnn";
  std::string data = "fashion-mnist";
  std::string normalize = "auto";
  int64_t max_samples = 0;
  int64_t epochs = 10;
  int64_t batch_size = 128;
  double lr = 0.1;
  std::string optimizer = "sgd";
  double momentum = 0.9;
  bool no_nesterov = false;
  std::vector<double> betas{0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 5e-4;
  std::vector<int64_t> lr_steps;
  double lr_decay = 0.1;
  int64_t save_every = 1;
  std::string out;
  uint64_t seed = 0;
  std::string augment = "auto";
  int64_t eval_samples = 0;
  std::string loss = "crossentropy";
  landscape::engine::EngineOptions engine;  // the device, threads and data root
};
int RunTrain(const TrainCmdOptions& opts);

/// Lists the built-in architectures.
int RunArchs();

struct ExportArchOptions {
  std::string arch;
  std::string input = "1x28x28";  // C x H x W
  int64_t classes = 10;
  uint64_t seed = 0;
  std::string out;
};
int RunExportArch(const ExportArchOptions& opts);

/// `landscape pack-data`: the samples a job would evaluate from an idx:/cifar10: directory as one tensor
/// file (engine::PackDataset); prints the --data/--normalize flags that give the same values.
struct PackDataOptions {
  core::DataSpec data;
  std::string out;
};
int RunPackData(const PackDataOptions& opts);

/// For `submit`: packs spec's idx:/cifar10: data into the tensor file `path` and points the spec at it
/// (source tensor:<path>, normalization written out, the selection cleared, the origin in the label
/// "data_packed_from"). kUnimplemented in a client built without the engine.
core::Status PackSpecData(core::JobSpec* spec, const std::string& path);

}  // namespace landscape::client
