// JobSpec: everything that defines a loss-landscape computation.
//
// One type for `landscape local`, the gRPC API (converted to/from proto in the
// server and client), the Redis job record (as JSON) and the summary files.
// Semantics follow docs/design.md §1 (the paper's reference code).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "landscape/core/grid.h"
#include "landscape/core/status.h"

namespace landscape::core {

/// Which tensors a direction covers: `weights` = named_parameters() order;
/// `states` = the state dict (parameters and buffers) order.
enum class DirType { kWeights, kStates };
/// Per-tensor scaling of a random direction for tensors with dim >= 2.
enum class Norm { kFilter, kLayer, kWeight, kDFilter, kDLayer, kNone };
/// What happens to tensors with dim <= 1: `biasbn` zeroes them; `none` copies θ.
enum class Ignore { kBiasBN, kNone };
/// kCrossEntropy and kMse are the reference's classification losses (kMse: MSE of softmax against one-hot);
/// kRegression: mean squared error of the raw outputs against float targets (labels [N] or [N, K]),
/// per sample averaged over K, no accuracy.
enum class Loss { kCrossEntropy, kMse, kRegression };
enum class Split { kTrain, kTest, kBoth };
/// Where the directions come from.
enum class DirectionKind { kRandom, kTarget, kFile, kPca };

const char* Name(DirType v);
const char* Name(Norm v);
const char* Name(Ignore v);
const char* Name(Loss v);
const char* Name(Split v);
const char* Name(DirectionKind v);
Result<DirType> ParseDirType(std::string_view s, std::string_view field);
Result<Norm> ParseNorm(std::string_view s, std::string_view field);
Result<Ignore> ParseIgnore(std::string_view s, std::string_view field);
Result<Loss> ParseLoss(std::string_view s, std::string_view field);
Result<Split> ParseSplit(std::string_view s, std::string_view field);
Result<DirectionKind> ParseDirectionKind(std::string_view s, std::string_view field);

/// A data set reference as written on the command line.
struct DataSource {
  enum class Kind { kFashionMnist, kMnist, kIdx, kCifar10, kTensor, kSynthetic };
  Kind kind = Kind::kFashionMnist;
  std::string location;  // directory (idx, cifar10, built-ins once resolved) or file (tensor)
  /// kSynthetic: N samples of shape [C, H, W] with `classes` labels, N(0, 1) pixels and
  /// uniform labels from the portable generator (for benchmarks and tests; the same
  /// data for train and test).
  int64_t synthetic_n = 0, synthetic_c = 0, synthetic_h = 0, synthetic_w = 0, synthetic_classes = 10;
};
/// "fashion-mnist", "mnist", "idx:DIR", "cifar10:DIR", "tensor:FILE", "FILE.pt", or
/// "synthetic:N:CxHxW[:CLASSES]".
Result<DataSource> ParseDataSource(std::string_view text, std::string_view field = "data");
std::string DataSourceToString(const DataSource& s);

struct DataSpec {
  std::string source = "fashion-mnist";  // see ParseDataSource
  Split split = Split::kTrain;
  int64_t max_samples = 0;               // 0 = every sample of the split
  std::optional<uint64_t> subset_seed;   // with max_samples: a seeded random subset instead of the first N
  int64_t batch_size = 128;              // evaluation batch; affects speed only
  /// Input normalization: "auto" (the data set's standard mean/std: Fashion-MNIST,
  /// MNIST and CIFAR-10 as the reference; IDX files scaled to [0, 1]; tensor
  /// files used as stored), "none" (pixels scaled to [0, 1] only), or
  /// "MEAN[,MEAN..]/STD[,STD..]" per channel, applied after scaling to [0, 1].
  std::string normalize = "auto";
};

/// A parsed DataSpec::normalize.
struct Normalization {
  enum class Mode { kAuto, kNone, kCustom };
  Mode mode = Mode::kAuto;
  std::vector<double> mean, std;  // kCustom: per channel (one value = every channel)
};
Result<Normalization> ParseNormalization(std::string_view text, std::string_view field = "data.normalize");

struct ModelSpec {
  std::string model;    // TorchScript archive, or a state dict applied onto `arch`
  std::string arch;     // TorchScript archive giving the architecture for state-dict files (optional)
  std::string model2;   // target direction x = model2 - model
  std::string model3;   // target direction y = model3 - model
  std::vector<std::string> checkpoints;  // PCA directions from a training trajectory
};

struct AxisDirection {
  Norm norm = Norm::kFilter;
  Ignore ignore = Ignore::kBiasBN;
};

struct DirectionSpec {
  DirectionKind kind = DirectionKind::kRandom;
  DirType type = DirType::kWeights;
  AxisDirection x;
  AxisDirection y;
  uint64_t seed = 123;      // random directions; the reference's fixed seed by default
  bool same_dir = false;    // y := x
  std::string file;         // kind == kFile: a direction file in the reference's HDF5 layout
  Ignore pca_ignore = Ignore::kNone;  // kind == kPca: zero <=1-D entries before PCA
};

struct HessianSpec {
  bool enabled = false;       // compute min_eig / max_eig at every point
  int64_t max_samples = 0;    // 0 = the evaluation set; else the first N samples of the train split
  double tolerance = 1e-3;    // relative tolerance of the Lanczos solver
  int64_t max_iterations = 100;
};

/// Limits a deployment or the CLI applies on top of validity.
struct SpecLimits {
  int64_t max_points = 4'000'000;   // grid points per job
  int64_t max_tile_size = 65'536;
  int64_t max_batch_size = 1 << 16;
};

struct JobSpec {
  ModelSpec model;
  DataSpec data;
  Loss loss = Loss::kCrossEntropy;
  DirectionSpec directions;
  GridSpec grid;
  HessianSpec hessian;
  bool compute_loss = true;                  // loss and accuracy metrics
  std::map<std::string, std::string> labels; // for CI: repository, commit, run, ...
  int64_t tile_size = 0;                     // 0 = DefaultTileSize(points)
  std::string name;                          // free-form display name
  // The name of the file each artifact ref in the spec was uploaded from ("artifact:<sha256>" ->
  // "r20.pt"): for messages and summaries only (not part of the computation).
  std::map<std::string, std::string> file_names;

  int64_t EffectiveTileSize() const { return tile_size > 0 ? tile_size : DefaultTileSize(grid.PointCount()); }
  bool evaluates_train() const { return data.split != Split::kTest; }
  bool evaluates_test() const { return data.split != Split::kTrain; }
  /// Metric dataset names this job produces, in file order.
  std::vector<std::string> MetricNames() const;
};

/// Full validation: every field that can be checked without opening files.
/// Errors name the field ("grid.x", "directions.x.norm", "data.batch_size").
Status ValidateSpec(const JobSpec& spec, const SpecLimits& limits = {});

/// The same job with its directions read from `dir_file` (a path or an artifact ref) instead of made:
/// kind file, same_dir off (the file holds y = x already), and no model2, model3 or checkpoints (which
/// only made the directions). What a tile's worker, a resumed run and a second device evaluate.
JobSpec WithDirectionFile(const JobSpec& spec, const std::string& dir_file);

/// The spec fields that determine the computed values (no labels, name or tile
/// size), as canonical JSON: two specs with the same key give the same surface.
std::string ComputationKey(const JobSpec& spec);

/// JSON form (stable field names; unknown fields are rejected by FromJson).
std::string SpecToJson(const JobSpec& spec, int indent = -1);
Result<JobSpec> SpecFromJson(std::string_view json);

}  // namespace landscape::core
