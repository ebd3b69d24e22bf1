// The loss-landscape engine: one job's model, data and directions loaded once,
// then any number of grid points evaluated. No LibTorch types in this header,
// so the CLI and the worker include it cheaply.
#pragma once

#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "landscape/core/spec.h"
#include "landscape/core/status.h"
#include "landscape/engine/options.h"  // EngineOptions
#include "landscape/io/hdf5_files.h"

namespace landscape::engine {

/// Values at one grid point; NaN for metrics the job does not compute.
struct PointValues {
  double train_loss = NAN, train_acc = NAN, test_loss = NAN, test_acc = NAN;
  double min_eig = NAN, max_eig = NAN;
  /// The value of a metric by its surface dataset name.
  double Get(const std::string& metric) const;
};

struct EngineInfo {
  std::string device;
  int threads = 1;
  int64_t parameters = 0;         // entries of the tensors the directions cover
  int64_t direction_tensors = 0;  // K: tensors per direction
  int64_t num_classes = 0;
  std::vector<std::string> data;  // one description per split
  std::vector<int64_t> input_shape;  // [C, H, W]
  /// Seconds spent in Create: loading the model(s) and data; making or reading the
  /// directions; preparing the evaluation (moving to the device, the measurements
  /// that choose the evaluation path, the first-layer cache).
  double load_seconds = 0, directions_seconds = 0, setup_seconds = 0;
  double xy_cosine = NAN;         // cosine similarity of x and y (2-D)
  bool optimized = false;         // points evaluated on frozen, optimized graphs
  int lanes = 1;                  // CPU lanes a point's batches are split over (1: operators use the threads)
  bool first_layer_cached = false;  // points evaluated from the cached first layer (notes["first_layer"] says which)
  bool onednn = false;  // points evaluated on the engine's own oneDNN primitives (notes["onednn"] says what)
  bool constants_fitted = false;  // points run on one frozen graph, constants fitted (notes["cuda_graphs"])
  bool cuda_graphs = false;       // each split replayed as a captured CUDA graph
  int64_t batch_size = 0;         // the evaluation batch size in use
  std::string precision = "fp32";  // ToString(EngineOptions::precision)
  /// Facts worth recording with the results (e.g. "hessian_definition").
  std::map<std::string, std::string> notes;
};

/// Curvature scalars at the centre (θ*), for CI dashboards.
struct HessianAnalysis {
  std::vector<double> top_eigenvalues;  // largest first
  double min_eig = NAN;
  double trace = NAN, trace_standard_error = NAN;
  int64_t trace_samples = 0;
  int64_t parameters = 0;               // entries of the tensors with dim > 1
  int64_t products = 0;                 // Hessian-vector products used
  double seconds = 0;
  std::string definition;
  /// With AnalyzeHessian(..., directions = true): the two leading eigenvectors as a direction
  /// file's x and y (weights type: unit vectors over the tensors with dim > 1, zero elsewhere),
  /// for `local --dir-file` (PyHessian's plots along the top eigenvectors).
  std::optional<io::DirectionSet> directions;
};

class Engine {
 public:
  /// Loads the model(s), the data splits and the directions (computing random or
  /// target directions, or reading the direction file), and checks that the data
  /// fit the model. Every input error is reported here, before any point.
  static core::Result<std::unique_ptr<Engine>> Create(const core::JobSpec& spec, const EngineOptions& opts);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// The directions in the reference's file layout (what --dir-file reads back).
  const io::DirectionSet& directions() const;
  const EngineInfo& info() const;
  const core::JobSpec& spec() const;
  /// PCA jobs: every checkpoint's coordinates in the plane, its distance from
  /// the plane, and its loss measured at the checkpoint ("loss_true") beside the
  /// loss at its projection ("loss_projected"), on the first evaluated split.
  /// Null for other direction kinds.
  const io::Projection* trajectory() const;

  /// Sets the weights to θ + α·dx + β·dy and evaluates the job's metrics.
  /// One call at a time, from any thread; results do not depend on earlier calls.
  core::Result<PointValues> Evaluate(double alpha, double beta);

  /// Top-k eigenvalues, λmin and the Hutchinson trace estimate of the Hessian at
  /// the centre (over spec.hessian.max_samples samples, 0 = the evaluation set).
  core::Result<HessianAnalysis> AnalyzeHessian(int64_t top_k, int64_t trace_samples, uint64_t seed,
                                               bool directions = false);

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Stores `v` at flat index k of `surface` and marks the point done.
void StorePoint(const PointValues& v, int64_t k, io::Surface* surface);

/// Process-wide LibTorch settings for evaluation (Engine::Create calls it): TorchScript's
/// tensor-expression fuser is turned off, because it compiles kernels for every new graph, and a
/// frozen graph is built per grid point; cuDNN's benchmark mode as opts.cudnn_benchmark says.
void ConfigureTorchRuntime(const EngineOptions& opts);

/// OK when `device` ("auto", "cpu", "cuda", "cuda:N") names a device this process can
/// use; else kInvalidArgument saying why (field "device"). For processes that
/// should refuse a bad --device at start rather than fail every job.
core::Status CheckDevice(const std::string& device);

/// The device `device` names, canonical: "auto" → "cuda:0" when LibTorch has CUDA and a GPU
/// is visible, else "cpu"; "cuda" → "cuda:0". Errors as CheckDevice.
core::Result<std::string> ResolveDevice(const std::string& device);

/// The devices of a comma-separated list, canonical ("cuda" → "cuda:0"): "auto", "cpu", "cuda", "cuda:N" or
/// "cuda:all" (every visible GPU), e.g. "cuda:0,cuda:1". "cpu" may repeat (each entry one engine on a
/// share of the cores); a GPU may not. kInvalidArgument / kFailedPrecondition naming field "device".
core::Result<std::vector<std::string>> ExpandDevices(const std::string& list);

/// The samples a job evaluates from an `idx:` or `cifar10:` directory, as one tensor file (the
/// torch.save format that `--data FILE.pt` reads: {"train": {"images": uint8 [N, C, H, W], "labels":
/// int64 [N]}, "test": {...}}), so that a job can carry its data to workers that cannot see the
/// directory. Only the splits `spec.split` evaluates, each already cut to max_samples / subset_seed, in
/// the order the directory gives them: with max_samples and subset_seed cleared and `normalize` below,
/// the file evaluates to the same values, bit for bit.
struct PackedData {
  std::string normalize;            // the normalization to give the file ("auto" of cifar10: written out)
  std::vector<std::string> splits;  // e.g. "train 1000 of 50000"
  int64_t samples = 0;
  int64_t bytes = 0;                // the file's size
};
core::Result<PackedData> PackDataset(const core::DataSpec& spec, const std::string& out_path,
                                     const std::string& data_root = "");

/// Versions of the engine's libraries, for summaries and file attributes.
std::map<std::string, std::string> EngineVersions();

}  // namespace landscape::engine
