// The job flags shared by `landscape local` and `landscape submit`, and their
// translation into a JobSpec (docs/design.md §7). No CLI11 in this header.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "landscape/core/spec.h"
#include "landscape/core/status.h"

namespace CLI {
class App;
}

namespace landscape::client {

/// Which samples a job reads: the data flags `pack-data` shares with the job flags.
struct DataFlags {
  std::string data = "fashion-mnist";
  std::string split = "train";
  int64_t max_samples = 0;
  int64_t subset_seed = -1;  // -1: the first max_samples samples
  std::string normalize = "auto";
};

/// Registers --data, --split, --max-samples, --subset-seed and --normalize.
void AddDataFlags(CLI::App* app, DataFlags* flags);

/// The DataSpec the data flags describe (batch size left at its default); errors name the flag.
core::Result<core::DataSpec> BuildDataSpec(const DataFlags& flags);

struct JobFlags : DataFlags {
  std::string model, arch, model2, model3;
  std::vector<std::string> checkpoints;
  std::string checkpoint_dir;  // all model_<epoch>.pt / .t7 / .pth files in it, by epoch
  int64_t batch_size = 128;
  std::string loss = "crossentropy";
  std::string dir_type = "weights";
  std::string xnorm = "filter", xignore = "biasbn", ynorm = "filter", yignore = "biasbn";
  bool same_dir = false;
  uint64_t seed = 123;
  std::string dir_file;
  /// `trajectory` only: checkpoints with --dir-file are projected onto the file's directions
  /// (elsewhere the two are refused together).
  bool checkpoints_onto_dir_file = false;
  std::string pca_ignore = "none";
  std::string x = "-1:1:51";
  std::string y;
  bool hessian = false;
  bool no_loss = false;
  int64_t hessian_samples = 0;
  double hessian_tol = 1e-3;
  std::vector<std::string> labels;  // KEY=VALUE
  std::string name;
  int64_t tile_size = 0;
};

/// Registers the job flags on a subcommand.
void AddJobFlags(CLI::App* app, JobFlags* flags);

/// The checkpoints `model_<epoch>.{pt,t7,pth}` in `dir`, ordered by epoch.
core::Result<std::vector<std::string>> ListCheckpoints(const std::string& dir);

/// The limits `landscape local` applies: a grid of up to 10^8 points (its surface
/// takes about 50 bytes a point in memory); batch and tile sizes as the default.
core::SpecLimits LocalLimits();
/// The limits `landscape submit` applies before sending: none beyond validity (the
/// server applies its own, configurable ones, and names the field).
core::SpecLimits SubmitLimits();

/// Builds and validates the JobSpec the flags describe.
core::Result<core::JobSpec> BuildJobSpec(const JobFlags& flags, const core::SpecLimits& limits);

/// "KEY=VALUE" strings into a map (errors name the flag).
core::Result<std::map<std::string, std::string>> ParseLabels(const std::vector<std::string>& labels);

/// Rewrites argv so that "--x -1:1:51" reaches CLI11 as "--x=-1:1:51" (CLI11 would
/// otherwise read a leading '-' as an option).
std::vector<std::string> JoinNegativeValues(int argc, char** argv);

/// Checks, before any work starts, that each output file (flag, path) can be written: its directory
/// exists, is a directory and is writable, and the path is not a directory. Empty paths are skipped.
/// The first failure names the flag and the reason (kInvalidArgument: exit 2).
core::Status CheckOutputPaths(const std::vector<std::pair<std::string, std::string>>& outputs);

}  // namespace landscape::client
