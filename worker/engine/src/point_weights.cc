#include "point_weights.h"

#include <ATen/ATen.h>

#include <cstring>
#include <map>
#include <sstream>

#include "model_io.h"

namespace landscape::engine {

using core::Status;
using core::StatusCode;


at::Tensor FromHost(const io::HostArray& a, at::ScalarType dtype, const c10::Device& device, at::IntArrayRef shape) {
  at::ScalarType src = a.dtype == io::DType::kFloat32 ? at::kFloat
                       : a.dtype == io::DType::kFloat64 ? at::kDouble
                                                        : at::kLong;
  at::Tensor t = at::empty({a.numel()}, at::TensorOptions().dtype(src));
  if (!a.bytes.empty()) std::memcpy(t.data_ptr(), a.bytes.data(), a.bytes.size());
  return t.to(dtype).reshape(shape).to(device).contiguous();
}

Status PointWeights::Init(torch::jit::Module& module, core::DirType type, const io::DirectionSet& dirs,
                          const c10::Device& device) {
  two_d_ = dirs.has_y();
  torch::NoGradGuard no_grad;
  std::vector<NamedTensor> theta = CollectTensors(module, type);
  if (dirs.x.size() != theta.size()) {
    std::ostringstream os;
    os << "the directions have " << dirs.x.size() << " tensors but the model has " << theta.size() << " "
       << (type == core::DirType::kWeights ? "parameters (dir_type weights)" : "state entries (dir_type states)");
    // The other dir_type's count matching says which mistake it is; otherwise the file is another model's.
    const core::DirType other = type == core::DirType::kWeights ? core::DirType::kStates : core::DirType::kWeights;
    if (CollectTensors(module, other).size() == dirs.x.size()) {
      os << "; the direction file was made with dir_type " << core::Name(other);
    } else {
      os << "; was the direction file made for another model?";
    }
    return Status(StatusCode::kInvalidArgument, os.str(), "directions");
  }
  // Shapes must agree entry by entry.
  for (size_t i = 0; i < theta.size(); ++i) {
    const at::Tensor& t = theta[i].tensor;
    for (const auto* list : {&dirs.x, &dirs.y}) {
      if (list->empty()) continue;
      const io::HostArray& a = (*list)[i];
      if (a.numel() != t.numel()) {
        std::ostringstream os;
        os << "direction tensor " << i << " has shape " << io::ShapeString(a.shape) << " but the model's '"
           << theta[i].name << "' has shape " << t.sizes();
        return Status(StatusCode::kInvalidArgument, os.str(), "directions");
      }
    }
  }
  // Group floating tensors by dtype into flat buffers; integer entries apart.
  std::map<at::ScalarType, std::vector<size_t>> by_dtype;
  for (size_t i = 0; i < theta.size(); ++i) {
    const at::Tensor& t = theta[i].tensor;
    if (at::isFloatingType(t.scalar_type())) {
      by_dtype[t.scalar_type()].push_back(i);
    } else {
      IntEntry e;
      e.target = t;
      e.theta0 = t.clone();
      e.dx = FromHost(dirs.x[i], at::kFloat, device, t.sizes());
      if (two_d_) e.dy = FromHost(dirs.y[i], at::kFloat, device, t.sizes());
      ints_.push_back(std::move(e));
    }
    parameter_count_ += t.numel();
  }
  for (auto& [dtype, members] : by_dtype) {
    int64_t total = 0;
    for (size_t i : members) total += theta[i].tensor.numel();
    FlatGroup g;
    const auto opts = at::TensorOptions().dtype(dtype).device(device);
    g.flat = at::empty({total}, opts);
    std::vector<at::Tensor> dx_parts, dy_parts;
    int64_t offset = 0;
    for (size_t i : members) {
      at::Tensor t = theta[i].tensor;
      const int64_t n = t.numel();
      g.flat.narrow(0, offset, n).copy_(t.reshape({n}));
      // Re-point the module's tensor into the flat buffer (contiguous strides).
      std::vector<int64_t> strides(static_cast<size_t>(t.dim()), 1);
      for (int64_t d = t.dim() - 2; d >= 0; --d) strides[static_cast<size_t>(d)] = strides[static_cast<size_t>(d + 1)] * t.size(d + 1);
      t.set_(g.flat.storage(), offset, t.sizes(), strides);
      dx_parts.push_back(FromHost(dirs.x[i], dtype, device, {n}));
      if (two_d_) dy_parts.push_back(FromHost(dirs.y[i], dtype, device, {n}));
      offset += n;
    }
    g.theta0 = g.flat.clone();
    g.dx = at::cat(dx_parts);
    if (two_d_) g.dy = at::cat(dy_parts);
    g.scratch = at::empty_like(g.flat);
    groups_.push_back(std::move(g));
  }
  return Status::Ok();
}

void PointWeights::Set(double alpha, double beta) {
  c10::InferenceMode guard;
  for (FlatGroup& g : groups_) {
    at::mul_out(g.scratch, g.dx, alpha);
    if (two_d_) g.scratch.add_(g.dy, beta);
    at::add_out(g.flat, g.theta0, g.scratch);
  }
  for (IntEntry& e : ints_) {
    at::Tensor change = e.dx * alpha;
    if (two_d_) change.add_(e.dy, beta);
    e.target.copy_(e.theta0 + change.to(e.theta0.scalar_type()));
  }
}

void PointWeights::SetTerm(Term term) {
  c10::InferenceMode guard;
  for (FlatGroup& g : groups_) {
    g.flat.copy_(term == Term::kTheta0 ? g.theta0 : term == Term::kDx ? g.dx : g.dy);
  }
}

bool PointWeights::InFloat32Buffer(const at::Tensor& t) const {
  if (!t.defined()) return true;
  const auto* p = static_cast<const char*>(t.data_ptr());
  for (const FlatGroup& g : groups_) {
    const auto* begin = static_cast<const char*>(g.flat.data_ptr());
    if (g.flat.scalar_type() == at::kFloat && p >= begin && p < begin + g.flat.nbytes()) return true;
  }
  return false;
}

}  // namespace landscape::engine
