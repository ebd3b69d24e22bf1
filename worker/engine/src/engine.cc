#include "landscape/engine/engine.h"

#include <ATen/Parallel.h>
#include <H5public.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <chrono>
#include <sstream>

#include "datasets.h"
#include "directions.h"
#include "evaluator.h"
#include "landscape/core/system.h"
#include "model_io.h"

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

std::map<std::string, std::string> EngineVersions() {
  std::map<std::string, std::string> v;
  v["landscape"] = LANDSCAPE_VERSION;
#ifdef TORCH_VERSION
  v["libtorch"] = TORCH_VERSION;
#else
  v["libtorch"] = std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
                  std::to_string(TORCH_VERSION_PATCH);
#endif
  v["hdf5"] = H5_VERS_INFO;
  v["directions_rng"] = "landscape-portable-v1 (xoshiro256**, polar method)";
  return v;
}

struct Engine::Impl {
  core::JobSpec spec;
  EngineInfo info;
  io::DirectionSet dirs;
  std::unique_ptr<PointEvaluator> evaluator;
};

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;
const io::DirectionSet& Engine::directions() const { return impl_->dirs; }
const EngineInfo& Engine::info() const { return impl_->info; }
const core::JobSpec& Engine::spec() const { return impl_->spec; }

Result<PointValues> Engine::Evaluate(double alpha, double beta) {
  PointValues v;
  if (impl_->spec.compute_loss) {
    LS_ASSIGN_OR_RETURN(v, impl_->evaluator->Evaluate(alpha, beta));
  }
  return v;
}

Result<c10::Device> ParseDevice(const std::string& text) {
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
      return core::InvalidArgument("device", "unsupported device '" + text + "' (expected cpu, cuda or cuda:N)");
    }
    return d;
  } catch (const std::exception& e) {
    return core::InvalidArgument("device", "'" + text + "' is not a device (expected cpu, cuda or cuda:N)");
  }
}

core::Status CheckDevice(const std::string& device) { return ParseDevice(device).status(); }

namespace {

Result<std::string> Resolve(const EngineOptions& opts, const std::string& ref) {
  if (opts.resolve) return opts.resolve(ref);
  return ref;
}

// Runs the model on a couple of samples: the data must fit and give [B, classes]
// logits with every label below `classes`.
Result<int64_t> ProbeModel(torch::jit::Module& module, const Dataset& d, const std::string& model_path) {
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

Result<std::unique_ptr<Engine>> Engine::Create(const core::JobSpec& spec, const EngineOptions& opts) {
  core::SpecLimits no_grid_limit;
  no_grid_limit.max_points = 0;
  LS_RETURN_IF_ERROR(core::ValidateSpec(spec, no_grid_limit));
  auto impl = std::make_unique<Impl>();
  impl->spec = spec;
  EngineInfo& info = impl->info;
  const auto t0 = std::chrono::steady_clock::now();

  LS_ASSIGN_OR_RETURN(c10::Device device, ParseDevice(opts.device));
  info.device = device.str();
  info.threads = opts.threads > 0 ? opts.threads : core::CoresOwned();
  at::set_num_threads(info.threads);

  // Models.
  c10::optional<torch::jit::Module> arch;
  if (!spec.model.arch.empty()) {
    LS_ASSIGN_OR_RETURN(std::string arch_path, Resolve(opts, spec.model.arch));
    auto a = LoadTorchScript(arch_path);
    if (!a.ok()) return Status(a.status().code(), a.status().message(), "model.arch");
    arch = std::move(*a);
  }
  LS_ASSIGN_OR_RETURN(std::string model_path, Resolve(opts, spec.model.model));
  auto model = LoadModel(model_path, arch ? &*arch : nullptr, "model");
  if (!model.ok()) {
    const Status& s = model.status();
    return Status(s.code(), s.message(), s.field().empty() ? "model.model" : s.field());
  }
  torch::jit::Module module = std::move(*model);

  // Data.
  const std::string data_root = opts.data_root.empty() ? DefaultDataRoot() : opts.data_root;
  core::DataSpec data_spec = spec.data;
  if (data_spec.source.rfind("artifact:", 0) == 0 || data_spec.source.rfind("file://", 0) == 0) {
    LS_ASSIGN_OR_RETURN(std::string p, Resolve(opts, data_spec.source));
    data_spec.source = "tensor:" + p;
  } else if (auto src = core::ParseDataSource(data_spec.source); src.ok() &&
                                                                 src->kind == core::DataSource::Kind::kTensor) {
    LS_ASSIGN_OR_RETURN(std::string p, Resolve(opts, src->location));
    data_spec.source = "tensor:" + p;
  }
  std::vector<PointEvaluator::Split> splits;
  for (bool train : {true, false}) {
    if (train ? !spec.evaluates_train() : !spec.evaluates_test()) continue;
    LS_ASSIGN_OR_RETURN(Dataset d, LoadDatasetSplit(data_spec, train, data_root));
    info.data.push_back(d.description);
    splits.push_back({std::move(d), train});
  }
  info.input_shape.assign(splits[0].data.images.sizes().begin() + 1, splits[0].data.images.sizes().end());
  for (const auto& s : splits) {
    LS_ASSIGN_OR_RETURN(info.num_classes, ProbeModel(module, s.data, model_path));
  }
  const auto t1 = std::chrono::steady_clock::now();
  info.load_seconds = std::chrono::duration<double>(t1 - t0).count();

  // Directions (computed on the CPU, before the model moves to the device).
  LS_ASSIGN_OR_RETURN(impl->dirs, MakeDirections(spec, module, arch ? &*arch : nullptr, opts));
  if (spec.grid.is_2d() && !impl->dirs.has_y()) {
    return Status(StatusCode::kInvalidArgument, "the direction file has no ydirection, but the grid is 2-D",
                  "directions.file");
  }
  if (!spec.grid.is_2d()) impl->dirs.y.clear();
  info.direction_tensors = static_cast<int64_t>(impl->dirs.x.size());
  if (impl->dirs.has_y()) info.xy_cosine = DirectionsCosine(impl->dirs);
  info.directions_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();

  // Move everything to the device once.
  try {
    module.to(device);
    for (auto& s : splits) {
      s.data.images = s.data.images.to(device).contiguous();
      s.data.labels = s.data.labels.to(device).contiguous();
    }
  } catch (const std::exception& e) {
    return Status(StatusCode::kResourceExhausted, "cannot move the model and data to " + device.str() + ": " + FirstLine(e));
  }
  LS_ASSIGN_OR_RETURN(impl->evaluator, PointEvaluator::Create(module, spec.directions.type, impl->dirs,
                                                              std::move(splits), spec.loss, device,
                                                              spec.data.batch_size));
  info.parameters = impl->evaluator->parameter_count();
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

}  // namespace landscape::engine
