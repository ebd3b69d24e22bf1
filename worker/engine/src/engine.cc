#include "landscape/engine/engine.h"

#include <ATen/Parallel.h>
#include <ATen/Context.h>
#include <c10/core/DeviceGuard.h>
#include <cstdlib>
#include <torch/cuda.h>
#include <torch/version.h>
#include <torch/csrc/jit/passes/tensorexpr_fuser.h>

#include <mutex>

#include <chrono>
#include <optional>
#include <sstream>

#include "datasets.h"
#include "directions.h"
#include "evaluator.h"
#include "hessian.h"
#include "landscape/core/architectures.h"
#include "landscape/core/system.h"
#include "model_io.h"
#include "pca.h"
#include "zoo.h"

namespace landscape::engine {

using core::Result;
using core::Status;
using core::StatusCode;

double PointValues::Get(const std::string& m) const {
  if (m == "train_loss") return train_loss;
  if (m == "train_acc") return train_acc;
  if (m == "test_loss") return test_loss;
  if (m == "test_acc") return test_acc;
  if (m == "min_eig") return min_eig;
  if (m == "max_eig") return max_eig;
  return NAN;
}

void StorePoint(const PointValues& v, int64_t k, io::Surface* s) {
  for (const auto& name : s->metric_names) s->metrics[name][static_cast<size_t>(k)] = v.Get(name);
  s->done[static_cast<size_t>(k)] = 1;
}

void ConfigureTorchRuntime(const EngineOptions& opts) {
  static std::once_flag once;
  std::call_once(once, [] { torch::jit::setTensorExprFuserEnabled(false); });
  // cuDNN: time the candidate algorithms for each convolution shape once, or take its heuristic's first
  // choice (benchmarks compare both). No effect on CPUs.
  at::globalContext().setBenchmarkCuDNN(opts.cudnn_benchmark);
}

std::map<std::string, std::string> EngineVersions() {
  std::map<std::string, std::string> v;
  v["landscape"] = LANDSCAPE_VERSION;
#ifdef TORCH_VERSION
  v["libtorch"] = TORCH_VERSION;
#else
  v["libtorch"] = std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
                  std::to_string(TORCH_VERSION_PATCH);
#endif
  v["hdf5"] = io::Hdf5Version();
  v["directions_rng"] = "landscape-portable-v1 (xoshiro256**, polar method)";
  return v;
}

struct Engine::Impl {
  core::JobSpec spec;
  EngineInfo info;
  c10::Device device{c10::kCPU};
  io::DirectionSet dirs;
  std::unique_ptr<PointEvaluator> evaluator;
  std::unique_ptr<HessianOperator> hessian;  // only with spec.hessian.enabled
  std::optional<io::Projection> projection;  // only for PCA directions

  // The Hessian operator over the first spec.hessian.max_samples samples of the first split.
  void MakeHessian() {
    const auto& first = evaluator->splits().front();
    std::vector<std::pair<at::Tensor, at::Tensor>> batches;
    const int64_t n = spec.hessian.max_samples > 0 ? std::min(spec.hessian.max_samples, first.data.size())
                                                   : first.data.size();
    for (int64_t s = 0; s < n; s += spec.data.batch_size) {
      const int64_t len = std::min(spec.data.batch_size, n - s);
      batches.emplace_back(first.data.images.narrow(0, s, len), first.data.labels.narrow(0, s, len));
    }
    torch::jit::Module& m = evaluator->module();
    hessian = std::make_unique<HessianOperator>(m, HessianOperator::SelectParams(m), std::move(batches), spec.loss);
    info.notes["hessian_definition"] =
        "Hessian of the per-sample mean " + std::string(core::Name(spec.loss)) + " loss over the first " +
        std::to_string(n) + " samples of the " + (first.train ? "train" : "test") + " split, with respect to the " +
        std::to_string(hessian->size()) +
        " entries of tensors with dim > 1, eval mode; extreme eigenvalues by implicitly restarted Lanczos (Spectra) "
        "with errors relative to the spectral radius";
  }
};

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;
const io::DirectionSet& Engine::directions() const { return impl_->dirs; }
const EngineInfo& Engine::info() const { return impl_->info; }
const core::JobSpec& Engine::spec() const { return impl_->spec; }
const io::Projection* Engine::trajectory() const { return impl_->projection ? &*impl_->projection : nullptr; }

Result<PointValues> Engine::Evaluate(double alpha, double beta) {
  // Callable from any thread (one at a time): the device and, on CPUs, the intra-op thread count are
  // per-thread state in LibTorch and OpenMP, and a thread other than Create's starts with the defaults.
  c10::DeviceGuard device_guard(impl_->device);
  if (impl_->device.is_cpu() && at::get_num_threads() != impl_->info.threads) at::set_num_threads(impl_->info.threads);
  PointValues v;
  if (impl_->spec.compute_loss) {
    LS_ASSIGN_OR_RETURN(v, impl_->evaluator->Evaluate(alpha, beta));
  } else {
    impl_->evaluator->SetPoint(alpha, beta);
  }
  if (impl_->hessian) {
    auto eig = ComputeExtremeEigenvalues(*impl_->hessian, impl_->spec.hessian.tolerance,
                                         impl_->spec.hessian.max_iterations);
    if (!eig.ok()) return eig.status().WithContext("Hessian at (" + std::to_string(alpha) + ", " +
                                                   std::to_string(beta) + ")");
    v.min_eig = eig->min_eig;
    v.max_eig = eig->max_eig;
  }
  return v;
}

Result<HessianAnalysis> Engine::AnalyzeHessian(int64_t top_k, int64_t trace_samples, uint64_t seed,
                                               bool directions) {
  if (directions && impl_->spec.directions.type != core::DirType::kWeights) {
    return core::InvalidArgument("directions.type", "Hessian eigenvector directions are weight directions: use "
                                                    "--dir-type weights");
  }
  c10::DeviceGuard device_guard(impl_->device);
  const auto t0 = std::chrono::steady_clock::now();
  if (!impl_->hessian) impl_->MakeHessian();
  impl_->evaluator->SetPoint(0.0, 0.0);
  HessianOperator& op = *impl_->hessian;
  const int64_t before = op.products();
  HessianAnalysis a;
  a.parameters = op.size();
  const double tol = impl_->spec.hessian.tolerance;
  const int64_t maxit = impl_->spec.hessian.max_iterations;
  std::vector<std::vector<double>> vectors;
  if (directions) top_k = std::max<int64_t>(top_k, 2);
  if (top_k > 0) {
    LS_ASSIGN_OR_RETURN(a.top_eigenvalues,
                        ComputeTopEigenvalues(op, top_k, tol, maxit, directions ? &vectors : nullptr));
  }
  if (directions) {
    if (vectors.size() < 2) return Status(StatusCode::kInternal, "fewer than two Hessian eigenvectors");
    // The engine's weight directions give the tensor list and shapes; the operator's parameters are
    // those of them with dim > 1, in the same order.
    io::DirectionSet d;
    for (int axis = 0; axis < 2; ++axis) {
      const std::vector<double>& v = vectors[static_cast<size_t>(axis)];
      std::vector<io::HostArray>& out = axis == 0 ? d.x : d.y;
      size_t off = 0;
      for (const io::HostArray& like : impl_->dirs.x) {
        io::HostArray t = io::HostArray::Zeros(like.shape, io::DType::kFloat32);
        if (like.shape.size() > 1 && like.dtype != io::DType::kInt64) {
          float* dst = t.data<float>();
          for (int64_t j = 0; j < t.numel(); ++j) dst[j] = static_cast<float>(v.at(off + static_cast<size_t>(j)));
          off += static_cast<size_t>(t.numel());
        }
        out.push_back(std::move(t));
      }
      if (off != v.size()) return Status(StatusCode::kInternal, "the Hessian's parameters do not match the model's");
    }
    d.attributes["hessian_eigenvalues"] =
        std::to_string(a.top_eigenvalues[0]) + " " + std::to_string(a.top_eigenvalues[1]);
    d.attributes["hessian_definition"] = impl_->info.notes["hessian_definition"];
    a.directions = std::move(d);
  }
  LS_ASSIGN_OR_RETURN(ExtremeEigenvalues ext, ComputeExtremeEigenvalues(op, tol, maxit));
  a.min_eig = ext.min_eig;
  if (a.top_eigenvalues.empty()) a.top_eigenvalues.push_back(ext.max_eig);
  if (trace_samples > 0) {
    TraceEstimate t = EstimateTrace(op, trace_samples, seed);
    a.trace = t.trace;
    a.trace_standard_error = t.standard_error;
    a.trace_samples = t.samples;
  }
  a.products = op.products() - before;
  a.definition = impl_->info.notes["hessian_definition"];
  a.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return a;
}

Result<c10::Device> ParseDevice(const std::string& text) {
  if (text == "auto" || text.empty()) {  // CUDA when present, CPU otherwise
    return torch::cuda::is_available() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  }
  try {
    c10::Device d(text);
    if (d.is_cuda()) {
      if (!torch::cuda::is_available()) {
        return Status(StatusCode::kFailedPrecondition,
                      "device '" + text + "': this LibTorch has no CUDA or no GPU is visible", "device");
      }
      const auto count = static_cast<int64_t>(torch::cuda::device_count());
      if (d.has_index() && d.index() >= count) {
        return Status(StatusCode::kInvalidArgument,
                      "device '" + text + "': only " + std::to_string(count) + " GPU(s) visible", "device");
      }
      if (!d.has_index()) d = c10::Device(c10::kCUDA, 0);
    } else if (!d.is_cpu()) {
      return core::InvalidArgument("device", "unsupported device '" + text + "' (expected auto, cpu, cuda or cuda:N)");
    }
    return d;
  } catch (const std::exception& e) {
    return core::InvalidArgument("device", "'" + text + "' is not a device (expected auto, cpu, cuda or cuda:N)");
  }
}

core::Status CheckDevice(const std::string& device) { return ParseDevice(device).status(); }

Result<std::string> ResolveDevice(const std::string& device) {
  LS_ASSIGN_OR_RETURN(c10::Device d, ParseDevice(device));
  return d.str();
}

Result<std::vector<std::string>> ExpandDevices(const std::string& list) {
  std::vector<std::string> out;
  for (size_t begin = 0; begin <= list.size();) {
    size_t end = list.find(',', begin);
    if (end == std::string::npos) end = list.size();
    std::string item = list.substr(begin, end - begin);
    begin = end + 1;
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (item.empty()) return core::InvalidArgument("device", "'" + list + "' has an empty entry");
    if (item == "cuda:all") {
      if (!torch::cuda::is_available()) {
        return Status(StatusCode::kFailedPrecondition,
                      "device 'cuda:all': this LibTorch has no CUDA or no GPU is visible", "device");
      }
      for (size_t i = 0; i < torch::cuda::device_count(); ++i) out.push_back("cuda:" + std::to_string(i));
      continue;
    }
    LS_ASSIGN_OR_RETURN(c10::Device d, ParseDevice(item));
    out.push_back(d.str());
  }
  if (out.empty()) return core::InvalidArgument("device", "no device given");
  for (size_t i = 0; i < out.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (out[i] == out[j] && out[i] != "cpu") {
        return core::InvalidArgument("device", out[i] + " is listed twice (engines on one GPU would share its "
                                                          "stream; only cpu may repeat)");
      }
    }
  }
  return out;
}

namespace {

Result<std::string> Resolve(const EngineOptions& opts, const std::string& ref) {
  if (opts.resolve) return opts.resolve(ref);
  return ref;
}

// Runs the model on a couple of samples: the data must fit and give [B, classes]
// logits with every label below `classes`.
Result<int64_t> ProbeModel(torch::jit::Module& module, const Dataset& d, const std::string& model_path,
                           core::Loss loss) {
  const int64_t n = std::min<int64_t>(2, d.size());
  at::Tensor out;
  std::ostringstream shape;
  shape << d.images.sizes().slice(1);
  try {
    c10::InferenceMode guard;
    module.eval();
    out = module.forward({d.images.narrow(0, 0, n)}).toTensor();
  } catch (const std::exception& e) {
    return Status(StatusCode::kFailedPrecondition,
                  "the data do not fit the model: " + model_path + " fails on " + d.description + " images of shape " +
                      shape.str() + ": " + FirstLine(e),
                  "data");
  }
  const bool targets = at::isFloatingType(d.labels.scalar_type());
  if (loss == core::Loss::kRegression) {
    // Targets of the shape of the outputs: [N] for one output, [N, K] for K.
    const int64_t k_out = out.dim() >= 1 && out.size(0) == n ? out.numel() / n : -1;
    const int64_t k_target = d.labels.numel() / std::max<int64_t>(1, d.labels.size(0));
    if (k_out != k_target) {
      std::ostringstream os;
      os << "the model's output has shape " << out.sizes() << " for " << n << " samples, but the targets have "
         << k_target << " value(s) per sample";
      return Status(StatusCode::kFailedPrecondition, os.str(), "data");
    }
    return k_out;
  }
  if (targets) {
    return Status(StatusCode::kFailedPrecondition,
                  "the labels are floats (regression targets): use --loss regression, or give integer class labels",
                  "loss");
  }
  if (out.dim() != 2 || out.size(0) != n) {
    std::ostringstream os;
    os << "the model's output has shape " << out.sizes() << " for " << n << " images of shape " << shape.str()
       << "; expected [batch, classes] logits";
    return Status(StatusCode::kFailedPrecondition, os.str(), "model");
  }
  const int64_t classes = out.size(1);
  const int64_t max_label = d.labels.max().item<int64_t>();
  if (max_label >= classes) {
    return Status(StatusCode::kFailedPrecondition,
                  "the data have label " + std::to_string(max_label) + " but the model has only " +
                      std::to_string(classes) + " outputs",
                  "data");
  }
  return classes;
}

}  // namespace

namespace {

// The model (and its architecture, for a state dict) the spec names, resolved through opts.resolve.
struct LoadedModel {
  c10::optional<torch::jit::Module> arch;
  torch::jit::Module module;
  std::string path;
  torch::jit::Module* arch_or_null() { return arch ? &*arch : nullptr; }
};

// A built-in architecture (spec.model.arch names one) for the model at `model_path`, for inputs of
// `input_shape`: nothing when the model is TorchScript (it brings its own), else built with the
// state dict's number of outputs.
Result<c10::optional<torch::jit::Module>> BuiltInArchitecture(const std::string& name, const std::string& model_path,
                                                              const std::vector<int64_t>& input_shape) {
  auto kind = DetectModelFile(model_path);
  if (!kind.ok()) return Status(kind.status().code(), kind.status().message(), "model.model");
  if (*kind == ModelFileKind::kTorchScript) return c10::optional<torch::jit::Module>();
  auto state = LoadStateDict(model_path);
  if (!state.ok()) return Status(state.status().code(), state.status().message(), "model.model");
  auto arch = BuildArchitectureFor(name, input_shape, *state);
  if (!arch.ok()) return Status(arch.status().code(), arch.status().message(), "model.arch");
  return c10::optional<torch::jit::Module>(std::move(*arch));
}

// input_shape: one sample's shape in the data (a built-in architecture is built for it).
Result<LoadedModel> LoadModels(const core::JobSpec& spec, const EngineOptions& opts,
                               const std::vector<int64_t>& input_shape) {
  LoadedModel m;
  LS_ASSIGN_OR_RETURN(m.path, Resolve(opts, spec.model.model));
  if (core::IsArchitectureName(spec.model.arch)) {
    LS_ASSIGN_OR_RETURN(m.arch, BuiltInArchitecture(spec.model.arch, m.path, input_shape));
  } else if (!spec.model.arch.empty()) {
    LS_ASSIGN_OR_RETURN(std::string arch_path, Resolve(opts, spec.model.arch));
    auto a = LoadTorchScript(arch_path);
    if (!a.ok()) return Status(a.status().code(), a.status().message(), "model.arch");
    m.arch = std::move(*a);
  }
  auto model = LoadModel(m.path, m.arch_or_null(), "model");
  if (!model.ok()) {
    const Status& s = model.status();
    return Status(s.code(), s.message(), s.field().empty() ? "model.model" : s.field());
  }
  m.module = std::move(*model);
  return m;
}

// The splits the spec evaluates, loaded on the CPU (info: the data's descriptions and input shape).
Result<std::vector<PointEvaluator::Split>> LoadSplits(const core::JobSpec& spec, const EngineOptions& opts,
                                                      EngineInfo& info) {
  const std::string data_root = opts.data_root.empty() ? DefaultDataRoot() : opts.data_root;
  core::DataSpec data_spec = spec.data;
  if (data_spec.source.rfind("artifact:", 0) == 0 || data_spec.source.rfind("file://", 0) == 0) {
    LS_ASSIGN_OR_RETURN(std::string p, Resolve(opts, data_spec.source));
    data_spec.source = "tensor:" + p;
  } else if (auto src = core::ParseDataSource(data_spec.source); src.ok() &&
                                                                 src->kind == core::DataSource::Kind::kTensor) {
    LS_ASSIGN_OR_RETURN(std::string p, Resolve(opts, src->location));
    data_spec.source = "tensor:" + p;
  } else if (src.ok() && opts.resolve &&
             (src->kind == core::DataSource::Kind::kIdx || src->kind == core::DataSource::Kind::kCifar10)) {
    // A data directory is a path too: the resolver (the worker's path policy) checks it where it is opened.
    LS_ASSIGN_OR_RETURN(std::string p, Resolve(opts, src->location));
    data_spec.source = (src->kind == core::DataSource::Kind::kIdx ? "idx:" : "cifar10:") + p;
  }
  std::vector<PointEvaluator::Split> splits;
  for (bool train : {true, false}) {
    if (train ? !spec.evaluates_train() : !spec.evaluates_test()) continue;
    LS_ASSIGN_OR_RETURN(Dataset d, LoadDatasetSplit(data_spec, train, data_root));
    info.data.push_back(d.description);
    splits.push_back({std::move(d), train});
  }
  info.input_shape.assign(splits[0].data.images.sizes().begin() + 1, splits[0].data.images.sizes().end());
  return splits;
}

// The directions (computed on the CPU, before the model moves to the device), and for PCA directions or
// a training path projected onto given ones, the checkpoints' projection. Returns whether the path is
// projected onto a direction file.
Result<bool> MakeJobDirections(const core::JobSpec& spec, const EngineOptions& opts, LoadedModel& model,
                               io::DirectionSet& dirs, io::Projection& projection, EngineInfo& info) {
  torch::jit::Module& module = model.module;
  LS_ASSIGN_OR_RETURN(dirs, MakeDirections(spec, module, model.arch_or_null(), opts, &projection));
  if (spec.grid.is_2d() && !dirs.has_y()) {
    return Status(StatusCode::kInvalidArgument, "the direction file has no ydirection, but the grid is 2-D",
                  "directions.file");
  }
  // A training path onto given directions (the reference's project_trajectory with --dir_file).
  const bool project_onto_file =
      spec.directions.kind == core::DirectionKind::kFile && !spec.model.checkpoints.empty();
  if (project_onto_file) {
    LS_ASSIGN_OR_RETURN(projection, ProjectCheckpoints(spec, module, model.arch_or_null(), dirs, opts));
  }
  if (!spec.grid.is_2d()) dirs.y.clear();
  info.direction_tensors = static_cast<int64_t>(dirs.x.size());
  if (dirs.has_y()) info.xy_cosine = DirectionsCosine(dirs);
  if (spec.directions.kind == core::DirectionKind::kTarget && spec.directions.type == core::DirType::kWeights &&
      CollectTensors(module, core::DirType::kStates).size() > CollectTensors(module, core::DirType::kWeights).size()) {
    // The reference's issue #35: with buffers (BatchNorm statistics) held at model 1's values, the point
    // x = 1 is not model 2.
    info.notes["target_weights"] =
        "the model has buffers (BatchNorm statistics) that --dir-type weights keeps at the first model's values "
        "along the path, so the point at 1 is not the second model; --dir-type states interpolates them too";
  }
  return project_onto_file;
}

// Moves the model and the splits' data to the device once.
Status MoveToDevice(torch::jit::Module& module, std::vector<PointEvaluator::Split>& splits,
                    const c10::Device& device) {
  try {
    module.to(device);
    for (auto& s : splits) {
      s.data.images = s.data.images.to(device).contiguous();
      s.data.labels = s.data.labels.to(device).contiguous();
    }
  } catch (const std::exception& e) {
    return Status(StatusCode::kResourceExhausted, "cannot move the model and data to " + device.str() + ": " + FirstLine(e));
  }
  return Status::Ok();
}

// The evaluator's name for an auto/on/off switch.
EvalOptions::Choice ChoiceOf(Toggle t) {
  switch (t) {
    case Toggle::kOn: return EvalOptions::Choice::kOn;
    case Toggle::kOff: return EvalOptions::Choice::kOff;
    case Toggle::kAuto: break;
  }
  return EvalOptions::Choice::kAuto;
}

// The evaluator's options from the engine's (fp16 refused off CUDA here).
Result<EvalOptions> MakeEvalOptions(const core::JobSpec& spec, const EngineOptions& opts, const c10::Device& device) {
  EvalOptions eval;
  eval.batch_size = spec.data.batch_size;
  eval.optimize = opts.optimize;
  eval.channels_last = opts.channels_last;
  eval.auto_batch = opts.auto_batch;
  LS_RETURN_IF_ERROR(CheckPrecision(opts.precision, device.str(), "precision"));
  switch (opts.precision) {
    case Precision::kFp32: eval.dtype = at::kFloat; break;
    case Precision::kBf16: eval.dtype = at::kBFloat16; break;
    case Precision::kFp16: eval.dtype = at::kHalf; break;
  }
  eval.first_layer = ChoiceOf(opts.first_layer);
  eval.data_parallel = ChoiceOf(opts.data_parallel);
  eval.onednn = ChoiceOf(opts.onednn);
  eval.cuda_graphs = ChoiceOf(opts.cuda_graphs);
  if (opts.check_only && spec.directions.kind != core::DirectionKind::kPca) {
    eval.optimize = false;
    eval.auto_batch = false;
    eval.first_layer = EvalOptions::Choice::kOff;
    eval.data_parallel = EvalOptions::Choice::kOff;
    eval.onednn = EvalOptions::Choice::kOff;
    eval.cuda_graphs = EvalOptions::Choice::kOff;
  }
  return eval;
}

// What the evaluator chose, copied into the engine's info (flags, and a note per choice).
void DescribeEvaluator(const PointEvaluator& e, const EvalOptions& eval, EngineInfo& info) {
  info.batch_size = e.batch_size();
  info.parameters = e.parameter_count();
  info.optimized = e.optimized();
  info.first_layer_cached = e.first_layer_cached();
  info.lanes = e.data_parallel_lanes();
  if (!e.first_layer_note().empty()) info.notes["first_layer"] = e.first_layer_note();
  info.onednn = e.onednn();
  if (!e.onednn_note().empty()) info.notes["onednn"] = e.onednn_note();
  info.constants_fitted = e.constants_fitted();
  info.cuda_graphs = e.cuda_graphs();
  if (!e.cuda_graphs_note().empty()) info.notes["cuda_graphs"] = e.cuda_graphs_note();
  if (eval.optimize && !info.optimized && !info.first_layer_cached && !info.onednn) {
    const std::string& why = e.optimize_failure();
    info.notes["optimization"] =
        why.rfind("off:", 0) == 0 ? why : "off: the model cannot be frozen (" + why + ")";
  }
}

// Each checkpoint's true loss beside the loss at its projection onto the plane (projection.extra).
Status CompareProjection(const core::JobSpec& spec, const EngineOptions& opts, LoadedModel& model,
                         const c10::Device& device, PointEvaluator& evaluator, io::Projection& projection) {
  const auto& first = evaluator.splits().front();
  auto& losses_true = projection.extra["loss_true"];
  auto& acc_true = projection.extra["acc_true"];
  auto& losses_proj = projection.extra["loss_projected"];
  auto& acc_proj = projection.extra["acc_projected"];
  for (size_t i = 0; i < spec.model.checkpoints.size(); ++i) {
    LS_ASSIGN_OR_RETURN(std::string path, Resolve(opts, spec.model.checkpoints[i]));
    auto ck = LoadModel(path, model.arch ? &*model.arch : &model.module, "checkpoint");
    if (!ck.ok()) return ck.status();
    try {
      ck->to(device);
    } catch (const std::exception& e) {
      return Status(StatusCode::kResourceExhausted, "cannot move a checkpoint to " + device.str());
    }
    LS_ASSIGN_OR_RETURN(auto t, EvaluateModule(*ck, first.data, spec.loss, spec.data.batch_size));
    LS_ASSIGN_OR_RETURN(PointValues pv, evaluator.Evaluate(projection.x[i], projection.y[i]));
    losses_true.push_back(t.first);
    acc_true.push_back(t.second);
    losses_proj.push_back(first.train ? pv.train_loss : pv.test_loss);
    acc_proj.push_back(first.train ? pv.train_acc : pv.test_acc);
  }
  return Status::Ok();
}

}  // namespace

// The steps: validate the spec, set up the device, load the model and data, make the directions, move
// to the device, build the evaluator (which measures and chooses its path), then the Hessian operator and
// the checkpoints' projection when the spec asks for them.
Result<std::unique_ptr<Engine>> Engine::Create(const core::JobSpec& spec, const EngineOptions& opts) {
  core::SpecLimits no_grid_limit;
  no_grid_limit.max_points = 0;
  LS_RETURN_IF_ERROR(core::ValidateSpec(spec, no_grid_limit));
  auto impl = std::make_unique<Impl>();
  impl->spec = spec;
  EngineInfo& info = impl->info;
  const auto t0 = std::chrono::steady_clock::now();

  LS_ASSIGN_OR_RETURN(c10::Device device, ParseDevice(opts.device));
  // Whatever set-up allocates without naming a device lands on this one (engines for several GPUs are
  // created in parallel threads, each with its own current device).
  c10::DeviceGuard device_guard(device);
  ConfigureTorchRuntime(opts);
  impl->device = device;
  info.device = device.str();
  info.threads = opts.threads > 0 ? opts.threads : core::CoresOwned();
  at::set_num_threads(info.threads);

  LS_ASSIGN_OR_RETURN(std::vector<PointEvaluator::Split> splits, LoadSplits(spec, opts, info));
  LS_ASSIGN_OR_RETURN(LoadedModel model, LoadModels(spec, opts, info.input_shape));
  for (const auto& s : splits) {  // the data must fit the model: [B, classes] logits, every label below
    LS_ASSIGN_OR_RETURN(info.num_classes, ProbeModel(model.module, s.data, model.path, spec.loss));
  }
  const auto t1 = std::chrono::steady_clock::now();
  info.load_seconds = std::chrono::duration<double>(t1 - t0).count();

  io::Projection projection;
  LS_ASSIGN_OR_RETURN(const bool project_onto_file,
                      MakeJobDirections(spec, opts, model, impl->dirs, projection, info));
  const auto t2 = std::chrono::steady_clock::now();
  info.directions_seconds = std::chrono::duration<double>(t2 - t1).count();

  LS_RETURN_IF_ERROR(MoveToDevice(model.module, splits, device));
  LS_ASSIGN_OR_RETURN(EvalOptions eval, MakeEvalOptions(spec, opts, device));
  info.precision = ToString(opts.precision);
  LS_ASSIGN_OR_RETURN(impl->evaluator, PointEvaluator::Create(model.module, spec.directions.type, impl->dirs,
                                                              std::move(splits), spec.loss, device, eval));
  info.setup_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t2).count();
  DescribeEvaluator(*impl->evaluator, eval, info);

  if (spec.hessian.enabled) impl->MakeHessian();

  if (spec.directions.kind == core::DirectionKind::kPca || project_onto_file) {
    LS_RETURN_IF_ERROR(CompareProjection(spec, opts, model, device, *impl->evaluator, projection));
    impl->projection = std::move(projection);
  }
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

}  // namespace landscape::engine
