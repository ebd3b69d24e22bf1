#include "evaluator.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "forward_path.h"
#include "path_selector.h"

namespace landscape::engine {

using core::Result;
using core::Status;
using core::StatusCode;

io::HostArray ToHost(const at::Tensor& t) {
  const bool integral = !at::isFloatingType(t.scalar_type());
  at::Tensor c = t.detach().to(c10::Device(c10::kCPU), integral ? at::kLong : at::kFloat).contiguous();
  io::HostArray a = io::HostArray::Zeros(std::vector<int64_t>(c.sizes().begin(), c.sizes().end()),
                                         integral ? io::DType::kInt64 : io::DType::kFloat32);
  if (!a.bytes.empty()) std::memcpy(a.bytes.data(), c.data_ptr(), a.bytes.size());
  return a;
}

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
    return std::make_pair(loss_sum.item<double>() / n, loss == core::Loss::kRegression
                                                           ? NAN
                                                           : 100.0 * static_cast<double>(correct.item<int64_t>()) / n);
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, "evaluation failed: " + FirstLine(e));
  }
}

// With channels-last weights the convolutions keep activations channels-last even where the input's
// layout is ambiguous (one input channel: NCHW and NHWC strides coincide, and LibTorch then picks NCHW,
// reordering every activation between its own and oneDNN's layout at every layer: 40 % of a bf16
// ResNet-20's oneDNN time).
void WeightsToChannelsLast(torch::jit::Module& module) {
  at::NoGradGuard no_grad;
  auto convert = [](at::Tensor t) {
    if (t.defined() && t.dim() == 4) t.set_data(t.detach().contiguous(at::MemoryFormat::ChannelsLast));
  };
  for (const at::Tensor& p : module.parameters(/*recurse=*/true)) convert(p);
  for (const at::Tensor& b : module.buffers(/*recurse=*/true)) convert(b);
}

Result<std::unique_ptr<PointEvaluator>> PointEvaluator::Create(torch::jit::Module module, core::DirType type,
                                                               const io::DirectionSet& dirs, std::vector<Split> splits,
                                                               core::Loss loss, const c10::Device& device,
                                                               const EvalOptions& options) {
  std::unique_ptr<PointEvaluator> e(new PointEvaluator());
  EvalState& st = e->state_;
  st.dtype = options.dtype;
  st.channels_last = options.channels_last;
  st.module = std::move(module);
  st.splits = std::move(splits);
  st.loss = loss;
  st.device = device;
  st.batch_size = options.batch_size;
  st.two_d = dirs.has_y();
  st.threads = at::get_num_threads();
  try {
    st.module.eval();
    if (st.dtype != at::kFloat) {
      // The reduced-precision copy, made before the weights are re-pointed into the flat
      // buffer (Module::to on copies of aliased tensors mis-shapes them in LibTorch 1.13).
      st.reduced = st.module.deepcopy();
      st.reduced.to(st.dtype);
      if (st.channels_last) WeightsToChannelsLast(st.reduced);
      st.reduced.eval();
    }
    LS_RETURN_IF_ERROR(st.weights.Init(st.module, type, dirs, st.device));
    if (st.dtype != at::kFloat) {
      for (const auto& nt : CollectTensors(st.module, core::DirType::kStates)) st.sources.push_back(nt.tensor);
      for (const auto& nt : CollectTensors(st.reduced, core::DirType::kStates)) st.targets.push_back(nt.tensor);
    }
    // The forward pass's inputs: converted once (dtype, memory format), kept on the device.
    for (Split& s : st.splits) {
      at::Tensor x = s.data.images;
      if (st.dtype != at::kFloat && at::isFloatingType(x.scalar_type())) x = x.to(st.dtype);  // ids stay ids
      if (st.channels_last && x.dim() == 4) x = x.contiguous(at::MemoryFormat::ChannelsLast);
      st.inputs.push_back(x);
    }
    Selection chosen = SelectPath(st, options);
    e->choice_ = std::move(chosen.choice);
    e->lanes_ = std::move(chosen.lanes);
    e->path_ = std::move(chosen.path);
  } catch (const std::exception& ex) {
    return Status(StatusCode::kInternal, "cannot prepare the evaluation: " + FirstLine(ex));
  }
  return e;
}

PointEvaluator::~PointEvaluator() = default;

void PointEvaluator::SetPoint(double alpha, double beta) {
  state_.weights.Set(alpha, beta);
  path_->SetPoint(alpha, beta);
}

Result<PointValues> PointEvaluator::Evaluate(double alpha, double beta) {
  PointValues v;
  try {
    SetPoint(alpha, beta);
    path_->PreparePoint();
    // Reduced precision runs without the graph executor's shape/dtype-specializing
    // optimizations (LibTorch 1.13 mis-plans bfloat16 Linear layers with them).
    torch::jit::GraphOptimizerEnabledGuard optimizer(state_.GraphOptimize());
    c10::InferenceMode guard;
    for (size_t s = 0; s < state_.splits.size(); ++s) {
      const auto acc_opts = at::TensorOptions().device(state_.device);
      at::Tensor loss_sum = at::zeros({}, acc_opts.dtype(at::kDouble));
      at::Tensor correct = at::zeros({}, acc_opts.dtype(at::kLong));
      const size_t batches = state_.batches[s].size();
      const size_t lanes = std::min(static_cast<size_t>(choice_.lanes), batches);
      if (path_->ReplaySplit(s, loss_sum, correct)) {
        // The split's sums as the path replayed them (CUDA graphs).
      } else if (lanes <= 1) {
        path_->AccumulateBatches(0, s, 0, batches, 1, alpha, beta, loss_sum, correct);
      } else {
        AccumulateInLanes(*path_, state_, lanes_.Get(lanes, state_.threads), s, batches, lanes, alpha, beta,
                          loss_sum, correct);
      }
      const double n = static_cast<double>(state_.splits[s].data.size());
      const double loss = loss_sum.item<double>() / n;
      const double acc =
          state_.loss == core::Loss::kRegression ? NAN : 100.0 * static_cast<double>(correct.item<int64_t>()) / n;
      if (state_.splits[s].train) {
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
