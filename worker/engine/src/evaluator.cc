#include "evaluator.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <sstream>
#include <thread>

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

namespace {
// Adds one batch's summed loss and correct count to the device accumulators.
void AccumulateBatch(const at::Tensor& out_any, const at::Tensor& y, core::Loss loss, at::Tensor& loss_sum,
                     at::Tensor& correct) {
  // Reduced-precision logits: the loss is computed in float32.
  const at::Tensor out = out_any.scalar_type() == at::kFloat ? out_any : out_any.to(at::kFloat);
  if (loss == core::Loss::kRegression) {
    // Per sample: the mean over the K outputs of (output - target)^2; targets [B] or [B, K].
    const int64_t k = out.numel() / std::max<int64_t>(1, out.size(0));
    loss_sum.add_((out - y.reshape(out.sizes())).pow_(2).sum().div_(static_cast<double>(k)));
    return;  // no accuracy
  }
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
  e->optimize_ = options.optimize;
  e->dtype_ = options.dtype;
  e->channels_last_ = options.channels_last;
  e->module_ = std::move(module);
  e->splits_ = std::move(splits);
  e->loss_ = loss;
  e->device_ = device;
  e->batch_size_ = options.batch_size;
  e->two_d_ = dirs.has_y();
  e->threads_ = at::get_num_threads();
  try {
    e->module_.eval();
    if (e->dtype_ != at::kFloat) {
      // The reduced-precision copy, made before the weights are re-pointed into the flat
      // buffer (Module::to on copies of aliased tensors mis-shapes them in LibTorch 1.13).
      e->reduced_ = e->module_.deepcopy();
      e->reduced_.to(e->dtype_);
      if (e->channels_last_) WeightsToChannelsLast(e->reduced_);
      e->reduced_.eval();
    }
    LS_RETURN_IF_ERROR(e->weights_.Init(e->module_, type, dirs, e->device_));
    if (e->dtype_ != at::kFloat) {
      for (const auto& nt : CollectTensors(e->module_, core::DirType::kStates)) e->sources_.push_back(nt.tensor);
      for (const auto& nt : CollectTensors(e->reduced_, core::DirType::kStates)) e->targets_.push_back(nt.tensor);
    }
    if (e->optimize_) e->ForwardModule();  // finds out now whether the model can be frozen
    // The forward pass's inputs: converted once (dtype, memory format), kept on the device.
    for (Split& s : e->splits_) {
      at::Tensor x = s.data.images;
      if (e->dtype_ != at::kFloat && at::isFloatingType(x.scalar_type())) x = x.to(e->dtype_);  // ids stay ids
      if (e->channels_last_ && x.dim() == 4) x = x.contiguous(at::MemoryFormat::ChannelsLast);
      e->inputs_.push_back(x);
    }
    if (options.auto_batch) e->batch_size_ = e->ChooseBatchSize(options.data_parallel);
    e->MakeBatches();
    if (e->optimize_ && e->dtype_ == at::kFloat) e->DecideOptimization();
    e->DecideOnednn(options);
    e->DecideCudaGraphs(options);
    if (options.first_layer != EvalOptions::Choice::kOff) e->DecideFirstLayer(options);
    e->DecideDataParallel(options.data_parallel);
  } catch (const std::exception& ex) {
    return Status(StatusCode::kInternal, "cannot prepare the evaluation: " + FirstLine(ex));
  }
  return e;
}

void PointEvaluator::MakeBatches() {
  batches_.clear();
  for (size_t i = 0; i < splits_.size(); ++i) {
    std::vector<std::pair<at::Tensor, at::Tensor>> b;
    const int64_t n = splits_[i].data.size();
    for (int64_t start = 0; start < n; start += batch_size_) {
      const int64_t len = std::min(batch_size_, n - start);
      b.emplace_back(inputs_[i].narrow(0, start, len), splits_[i].data.labels.narrow(0, start, len));
    }
    batches_.push_back(std::move(b));
  }
}

LanePool& PointEvaluator::Lanes(size_t lanes) {
  if (!lane_pool_ || lane_pool_->size() != lanes) {
    lane_pool_.reset();
    lane_pool_ = std::make_unique<LanePool>(lanes, threads_);
  }
  return *lane_pool_;
}

void PointEvaluator::SetPoint(double alpha, double beta) {
  weights_.Set(alpha, beta);
  if (basis_) basis_->Set(alpha, beta);
}

PointEvaluator::BatchForward OnNet(OnednnNet* net) {
  return [net](const at::Tensor& x, size_t lane) { return net->Forward(x, lane); };
}
PointEvaluator::BatchForward OnModule(torch::jit::Module& module) {
  torch::jit::Method method = module.get_method("forward");
  return [method](const at::Tensor& x, size_t) mutable { return method({x}).toTensor(); };
}


PointEvaluator::BatchForward PointEvaluator::PointForward() {
  if (basis_) return OnModule(basis_->module());  // its constants already set by SetPoint
  if (onednn_) {
    // The point's weights, BatchNorm folded by freezing, loaded into the primitives.
    torch::jit::Module frozen = FrozenPoint();
    const Status loaded = onednn_->SetWeights(frozen.get_method("forward").graph());
    if (!loaded.ok()) throw std::runtime_error(loaded.message());
    return OnNet(onednn_.get());
  }
  return OnModule(ForwardModule());
}

void PointEvaluator::AccumulateBatches(const BatchForward& forward, size_t lane, size_t s, size_t first, size_t end,
                                       size_t stride, double alpha, double beta, at::Tensor& loss_sum,
                                       at::Tensor& correct) {
  const auto& batches = batches_[s];
  at::Tensor h;  // the cached first layer's output for one batch (per thread)
  for (size_t b = first; b < end; b += stride) {
    const auto& [x, y] = batches[b];
    if (cache_) {
      // The first layer's output at this point from its cached terms, then the rest of the model.
      const auto& terms = cache_->terms[s][b];
      if (!h.defined()) h = at::empty(cache_->batch_shape, terms[0].options());
      at::Tensor hb = h.narrow(0, 0, terms[0].size(0));
      at::add_out(hb, terms[0], terms[1], alpha);
      if (two_d_) hb.add_(terms[2], beta);
      AccumulateBatch(RunPart(*cache_->split.tail, module_, hb), y, loss_, loss_sum, correct);
    } else {
      AccumulateBatch(forward(x, lane), y, loss_, loss_sum, correct);
    }
  }
}

void PointEvaluator::AccumulateInLanes(const BatchForward& forward, size_t s, size_t end, size_t lanes, double alpha,
                                       double beta, at::Tensor& loss_sum, at::Tensor& correct) {
  // One single-threaded lane per core, each on every lanes-th batch: no
  // synchronization between operators, no OpenMP waiting.
  const bool graph_optimize = torch::jit::getGraphExecutorOptimize();
  const auto acc_opts = at::TensorOptions().device(device_);
  std::vector<at::Tensor> lane_loss(lanes), lane_correct(lanes);
  for (size_t l = 0; l < lanes; ++l) {
    lane_loss[l] = at::zeros({}, acc_opts.dtype(at::kDouble));
    lane_correct[l] = at::zeros({}, acc_opts.dtype(at::kLong));
  }
  Lanes(lanes).Run([&](size_t l) {
    torch::jit::GraphOptimizerEnabledGuard lane_optimizer(graph_optimize);
    c10::InferenceMode lane_guard;
    AccumulateBatches(forward, l, s, l, end, lanes, alpha, beta, lane_loss[l], lane_correct[l]);
  });
  for (size_t l = 0; l < lanes; ++l) {
    loss_sum.add_(lane_loss[l]);
    correct.add_(lane_correct[l]);
  }
}

Result<PointValues> PointEvaluator::Evaluate(double alpha, double beta) {
  PointValues v;
  try {
    SetPoint(alpha, beta);
    const BatchForward forward = PointForward();
    // Reduced precision runs without the graph executor's shape/dtype-specializing
    // optimizations (LibTorch 1.13 mis-plans bfloat16 Linear layers with them).
    torch::jit::GraphOptimizerEnabledGuard optimizer(dtype_ == at::kFloat && torch::jit::getGraphExecutorOptimize());
    c10::InferenceMode guard;
    for (size_t s = 0; s < splits_.size(); ++s) {
      const auto acc_opts = at::TensorOptions().device(device_);
      at::Tensor loss_sum = at::zeros({}, acc_opts.dtype(at::kDouble));
      at::Tensor correct = at::zeros({}, acc_opts.dtype(at::kLong));
      const size_t lanes = std::min(static_cast<size_t>(data_parallel_), batches_[s].size());
      if (s < captured_.size()) {
        captured_[s]->Replay();  // the split's batches as captured over the fitted graph
        loss_sum = graph_loss_[s];
        correct = graph_correct_[s];
      } else if (lanes <= 1) {
        AccumulateBatches(forward, 0, s, 0, batches_[s].size(), 1, alpha, beta, loss_sum, correct);
      } else {
        AccumulateInLanes(forward, s, batches_[s].size(), lanes, alpha, beta, loss_sum, correct);
      }
      const double n = static_cast<double>(splits_[s].data.size());
      const double loss = loss_sum.item<double>() / n;
      const double acc =
          loss_ == core::Loss::kRegression ? NAN : 100.0 * static_cast<double>(correct.item<int64_t>()) / n;
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
