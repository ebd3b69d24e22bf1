#include "evaluator.h"

#include <ATen/ATen.h>

#include <cstring>
#include <map>
#include <sstream>

namespace landscape::engine {

using core::Result;
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

io::HostArray ToHost(const at::Tensor& t) {
  const bool integral = !at::isFloatingType(t.scalar_type());
  at::Tensor c = t.detach().to(c10::Device(c10::kCPU), integral ? at::kLong : at::kFloat).contiguous();
  io::HostArray a = io::HostArray::Zeros(std::vector<int64_t>(c.sizes().begin(), c.sizes().end()),
                                         integral ? io::DType::kInt64 : io::DType::kFloat32);
  if (!a.bytes.empty()) std::memcpy(a.bytes.data(), c.data_ptr(), a.bytes.size());
  return a;
}

namespace {
// Adds one batch's summed loss and correct count to the device accumulators.
void AccumulateBatch(const at::Tensor& out, const at::Tensor& y, core::Loss loss, at::Tensor& loss_sum,
                     at::Tensor& correct) {
  if (loss == core::Loss::kCrossEntropy) {
    loss_sum.add_(at::cross_entropy_loss(out, y, {}, at::Reduction::Sum));
  } else {
    // The reference: MSELoss(softmax(out), one_hot) averaged over batch x classes, times the batch.
    const int64_t classes = out.size(1);
    at::Tensor p = at::softmax(out, 1);
    at::Tensor target = at::one_hot(y, classes).to(p.scalar_type());
    loss_sum.add_((p - target).pow_(2).sum().div_(static_cast<double>(classes)));
  }
  correct.add_(out.argmax(1).eq(y).sum());
}
}  // namespace

Result<std::pair<double, double>> EvaluateModule(torch::jit::Module& module, const Dataset& data, core::Loss loss,
                                                 int64_t batch_size) {
  try {
    c10::InferenceMode guard;
    module.eval();
    const auto device = data.images.device();
    at::Tensor loss_sum = at::zeros({}, at::TensorOptions().dtype(at::kDouble).device(device));
    at::Tensor correct = at::zeros({}, at::TensorOptions().dtype(at::kLong).device(device));
    for (int64_t s = 0; s < data.size(); s += batch_size) {
      const int64_t len = std::min(batch_size, data.size() - s);
      at::Tensor out = module.forward({data.images.narrow(0, s, len)}).toTensor();
      AccumulateBatch(out, data.labels.narrow(0, s, len), loss, loss_sum, correct);
    }
    const double n = static_cast<double>(data.size());
    return std::make_pair(loss_sum.item<double>() / n, 100.0 * static_cast<double>(correct.item<int64_t>()) / n);
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, "evaluation failed: " + FirstLine(e));
  }
}

Result<std::unique_ptr<PointEvaluator>> PointEvaluator::Create(torch::jit::Module module, core::DirType type,
                                                               const io::DirectionSet& dirs, std::vector<Split> splits,
                                                               core::Loss loss, const c10::Device& device,
                                                               int64_t batch_size, bool optimize) {
  std::unique_ptr<PointEvaluator> e(new PointEvaluator());
  e->optimize_ = optimize;
  e->module_ = std::move(module);
  e->splits_ = std::move(splits);
  e->loss_ = loss;
  e->device_ = device;
  e->batch_size_ = batch_size;
  e->two_d_ = dirs.has_y();
  try {
    e->module_.eval();
    LS_RETURN_IF_ERROR(e->Init(type, dirs));
    if (e->optimize_) e->ForwardModule();  // finds out now whether the model can be frozen
    for (const Split& s : e->splits_) {
      std::vector<std::pair<at::Tensor, at::Tensor>> b;
      const int64_t n = s.data.size();
      for (int64_t start = 0; start < n; start += batch_size) {
        const int64_t len = std::min(batch_size, n - start);
        b.emplace_back(s.data.images.narrow(0, start, len), s.data.labels.narrow(0, start, len));
      }
      e->batches_.push_back(std::move(b));
    }
  } catch (const std::exception& ex) {
    return Status(StatusCode::kInternal, "cannot prepare the evaluation: " + FirstLine(ex));
  }
  return e;
}

Status PointEvaluator::Init(core::DirType type, const io::DirectionSet& dirs) {
  torch::NoGradGuard no_grad;
  std::vector<NamedTensor> theta = CollectTensors(module_, type);
  if (dirs.x.size() != theta.size()) {
    std::ostringstream os;
    os << "the directions have " << dirs.x.size() << " tensors but the model has " << theta.size() << " "
       << (type == core::DirType::kWeights ? "parameters (dir_type weights)" : "state entries (dir_type states)");
    if (type == core::DirType::kWeights) os << "; was the direction file made with dir_type states?";
    else os << "; was the direction file made with dir_type weights?";
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
      e.dx = FromHost(dirs.x[i], at::kFloat, device_, t.sizes());
      if (two_d_) e.dy = FromHost(dirs.y[i], at::kFloat, device_, t.sizes());
      ints_.push_back(std::move(e));
    }
    parameter_count_ += t.numel();
  }
  for (auto& [dtype, members] : by_dtype) {
    int64_t total = 0;
    for (size_t i : members) total += theta[i].tensor.numel();
    FlatGroup g;
    const auto opts = at::TensorOptions().dtype(dtype).device(device_);
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
      dx_parts.push_back(FromHost(dirs.x[i], dtype, device_, {n}));
      if (two_d_) dy_parts.push_back(FromHost(dirs.y[i], dtype, device_, {n}));
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

void PointEvaluator::SetPoint(double alpha, double beta) {
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

torch::jit::Module& PointEvaluator::ForwardModule() {
  if (!optimize_) return module_;
  try {
    // freeze() copies the module, baking the current (aliased) weights in as constants.
    torch::jit::Module frozen = torch::jit::freeze(module_);
    frozen_ = torch::jit::optimize_for_inference(frozen);
    return frozen_;
  } catch (const std::exception& e) {
    optimize_ = false;
    optimize_failure_ = FirstLine(e);
    return module_;
  }
}

Result<PointValues> PointEvaluator::Evaluate(double alpha, double beta) {
  PointValues v;
  try {
    SetPoint(alpha, beta);
    torch::jit::Module& forward_module = ForwardModule();
    torch::jit::Method forward = forward_module.get_method("forward");
    c10::InferenceMode guard;
    for (size_t s = 0; s < splits_.size(); ++s) {
      at::Tensor loss_sum = at::zeros({}, at::TensorOptions().dtype(at::kDouble).device(device_));
      at::Tensor correct = at::zeros({}, at::TensorOptions().dtype(at::kLong).device(device_));
      for (const auto& [x, y] : batches_[s]) {
        AccumulateBatch(forward({x}).toTensor(), y, loss_, loss_sum, correct);
      }
      const double n = static_cast<double>(splits_[s].data.size());
      const double loss = loss_sum.item<double>() / n;
      const double acc = 100.0 * static_cast<double>(correct.item<int64_t>()) / n;
      if (splits_[s].train) {
        v.train_loss = loss;
        v.train_acc = acc;
      } else {
        v.test_loss = loss;
        v.test_acc = acc;
      }
    }
  } catch (const std::exception& ex) {
    return Status(StatusCode::kInternal, "evaluation failed: " + FirstLine(ex));
  }
  return v;
}

}  // namespace landscape::engine
