#include "directions.h"

#include <ATen/ATen.h>

#include <sstream>

#include "evaluator.h"
#include "landscape/core/direction_math.h"
#include "model_io.h"
#include "pca.h"

namespace landscape::engine {

using core::Result;
using core::Status;
using core::StatusCode;

namespace {

std::vector<int64_t> Shape(const at::Tensor& t) { return {t.sizes().begin(), t.sizes().end()}; }

// θ as float32 host arrays (integer entries converted), for the direction math.
std::vector<std::vector<float>> HostFloats(const std::vector<NamedTensor>& theta) {
  std::vector<std::vector<float>> out;
  out.reserve(theta.size());
  for (const auto& nt : theta) {
    at::Tensor c = nt.tensor.detach().to(c10::Device(c10::kCPU), at::kFloat).contiguous();
    out.emplace_back(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  }
  return out;
}

std::vector<io::HostArray> RandomAxis(const std::vector<NamedTensor>& theta,
                                      const std::vector<std::vector<float>>& host, uint64_t seed, int axis,
                                      const core::AxisDirection& opts) {
  std::vector<io::HostArray> out;
  out.reserve(theta.size());
  for (size_t i = 0; i < theta.size(); ++i) {
    const auto shape = Shape(theta[i].tensor);
    out.push_back(io::HostArray::FromFloats(
        shape, core::RandomDirection(shape, host[i].data(), seed, axis, static_cast<int64_t>(i), opts.norm,
                                     opts.ignore)));
  }
  return out;
}

Result<std::vector<io::HostArray>> TargetAxis(const std::vector<NamedTensor>& theta, const std::string& path,
                                              const torch::jit::Module& model, const torch::jit::Module* arch,
                                              core::DirType type, const std::string& what) {
  LS_ASSIGN_OR_RETURN(torch::jit::Module other, LoadModel(path, arch ? arch : &model, what));
  std::vector<NamedTensor> theta2 = CollectTensors(other, type);
  if (theta2.size() != theta.size()) {
    return Status(StatusCode::kInvalidArgument,
                  what + " (" + path + ") has " + std::to_string(theta2.size()) + " tensors but the model has " +
                      std::to_string(theta.size()) + ": different architectures",
                  "model." + what);
  }
  std::vector<io::HostArray> out;
  for (size_t i = 0; i < theta.size(); ++i) {
    if (!theta2[i].tensor.sizes().equals(theta[i].tensor.sizes())) {
      std::ostringstream os;
      os << what << " (" << path << "): '" << theta2[i].name << "' has shape " << theta2[i].tensor.sizes()
         << " but the model's '" << theta[i].name << "' has " << theta[i].tensor.sizes();
      return Status(StatusCode::kInvalidArgument, os.str(), "model." + what);
    }
    // d = θ2 − θ in the tensor's own dtype (float32, or int64 for counters), no normalization.
    out.push_back(ToHost(theta2[i].tensor.detach() - theta[i].tensor.detach()));
  }
  return out;
}

}  // namespace

Result<io::DirectionSet> MakeDirections(const core::JobSpec& spec, const torch::jit::Module& model,
                                        const torch::jit::Module* arch, const EngineOptions& opts,
                                        io::Projection* projection) {
  const core::DirectionSpec& d = spec.directions;
  auto resolve = [&](const std::string& ref) -> Result<std::string> {
    return opts.resolve ? opts.resolve(ref) : Result<std::string>(ref);
  };
  io::DirectionSet dirs;
  if (d.kind == core::DirectionKind::kFile) {
    LS_ASSIGN_OR_RETURN(std::string path, resolve(d.file));
    auto r = io::ReadDirectionFile(path);
    if (!r.ok()) return Status(r.status().code(), r.status().message(), "directions.file");
    return r;
  }
  torch::NoGradGuard no_grad;
  const std::vector<NamedTensor> theta = CollectTensors(model, d.type);
  if (theta.empty()) return Status(StatusCode::kInvalidArgument, "the model has no parameters", "model.model");

  if (d.kind == core::DirectionKind::kPca) {
    LS_ASSIGN_OR_RETURN(PcaResult pca, ComputePca(spec, model, arch, opts));
    dirs = std::move(pca.dirs);
    if (projection) *projection = std::move(pca.projection);
  } else if (d.kind == core::DirectionKind::kTarget) {
    LS_ASSIGN_OR_RETURN(std::string p2, resolve(spec.model.model2));
    LS_ASSIGN_OR_RETURN(dirs.x, TargetAxis(theta, p2, model, arch, d.type, "model2"));
    if (spec.grid.is_2d()) {
      if (!spec.model.model3.empty()) {
        LS_ASSIGN_OR_RETURN(std::string p3, resolve(spec.model.model3));
        LS_ASSIGN_OR_RETURN(dirs.y, TargetAxis(theta, p3, model, arch, d.type, "model3"));
      } else {
        dirs.y = RandomAxis(theta, HostFloats(theta), d.seed, 1, d.y);
      }
    }
  } else {
    const auto host = HostFloats(theta);
    dirs.x = RandomAxis(theta, host, d.seed, 0, d.x);
    if (spec.grid.is_2d()) dirs.y = d.same_dir ? dirs.x : RandomAxis(theta, host, d.seed, 1, d.y);
  }
  if (spec.grid.is_2d() && d.same_dir) dirs.y = dirs.x;

  auto& a = dirs.attributes;
  a["kind"] = core::Name(d.kind);
  a["dir_type"] = core::Name(d.type);
  a["model"] = spec.model.model;
  if (d.kind == core::DirectionKind::kRandom) {
    a["seed"] = std::to_string(d.seed);
    a["xnorm"] = core::Name(d.x.norm);
    a["xignore"] = core::Name(d.x.ignore);
    if (spec.grid.is_2d()) {
      a["ynorm"] = core::Name(d.y.norm);
      a["yignore"] = core::Name(d.y.ignore);
      a["same_dir"] = d.same_dir ? "true" : "false";
    }
    a["rng"] = "landscape-portable-v1";
  }
  if (d.kind == core::DirectionKind::kTarget) {
    a["model2"] = spec.model.model2;
    if (!spec.model.model3.empty()) a["model3"] = spec.model.model3;
  }
  std::string names;
  for (const auto& nt : theta) names += (names.empty() ? "" : ",") + nt.name;
  a["tensor_names"] = names;
  return dirs;
}

double DirectionsCosine(const io::DirectionSet& dirs) {
  std::vector<std::vector<float>> x, y;
  std::vector<std::vector<int64_t>> shapes;
  for (size_t i = 0; i < dirs.x.size() && i < dirs.y.size(); ++i) {
    auto to_floats = [](const io::HostArray& a) {
      std::vector<float> v(static_cast<size_t>(a.numel()));
      for (int64_t j = 0; j < a.numel(); ++j) v[static_cast<size_t>(j)] = static_cast<float>(a.At(j));
      return v;
    };
    x.push_back(to_floats(dirs.x[i]));
    y.push_back(to_floats(dirs.y[i]));
    shapes.push_back(dirs.x[i].shape);
  }
  return core::DirectionCosine(x, y, shapes);
}

}  // namespace landscape::engine
