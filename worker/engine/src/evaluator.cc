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
    LS_RETURN_IF_ERROR(e->Init(type, dirs));
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

namespace {
// Seconds of the fastest of `runs` calls of `f` after `warmups` untimed ones
// (machine noise only ever slows a run down). `f` must wait for the device.
template <typename F>
double BestSeconds(int warmups, int runs, F&& f) {
  for (int w = 0; w < warmups; ++w) f();
  double best = 1e300;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

// Seconds of one forward pass of `m` on `x`.
double TimeForward(torch::jit::Module& m, const at::Tensor& x) {
  c10::InferenceMode guard;
  return BestSeconds(2, 3, [&] { (void)m.forward({x}).toTensor().sum().item<float>(); });
}
}  // namespace

void PointEvaluator::DecideOptimization() {
  // A frozen graph per point pays when its faster passes outweigh the freezing:
  //   freeze + batches * t_frozen < batches * t_plain.
  // Measured here on the first batch; small models on small data often lose.
  if (batches_.empty() || batches_.front().empty()) return;
  const at::Tensor& x = batches_.front().front().first;
  const auto t0 = std::chrono::steady_clock::now();
  torch::jit::Module& frozen = ForwardModule();
  const double t_freeze = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!optimize_) return;  // could not be frozen
  const double t_frozen = TimeForward(frozen, x);
  const double t_plain = TimeForward(module_, x);
  int64_t n_batches = 0;
  for (const auto& b : batches_) n_batches += static_cast<int64_t>(b.size());
  const double with = t_freeze + static_cast<double>(n_batches) * t_frozen;
  const double without = static_cast<double>(n_batches) * t_plain;
  batch_seconds_ = std::min(with, without) / static_cast<double>(n_batches);
  if (with >= without) {
    optimize_ = false;
    lanes_measured_.reset();  // measured on the frozen graph: measure again on the path taken
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "off: a frozen graph per point would cost %.1f ms against %.1f ms for the model as loaded",
                  1e3 * with, 1e3 * without);
    optimize_failure_ = buf;
  }
}

std::vector<at::Tensor> PointEvaluator::HeadOutputs(const FirstLayerSplit& split, at::Tensor FlatGroup::*terms) {
  c10::InferenceMode guard;
  for (FlatGroup& g : groups_) g.flat.copy_(g.*terms);
  std::vector<at::Tensor> out;
  try {
    for (const auto& batches : batches_) {
      at::Tensor all;
      int64_t offset = 0;
      for (const auto& [x, y] : batches) {
        at::Tensor h = RunPart(*split.head, module_, x);
        if (!all.defined()) {
          std::vector<int64_t> shape(h.sizes().begin(), h.sizes().end());
          int64_t n = 0;
          for (const auto& b : batches) n += b.first.size(0);
          shape[0] = n;
          all = at::empty(shape, h.options());
        }
        all.narrow(0, offset, h.size(0)).copy_(h);
        offset += h.size(0);
      }
      out.push_back(all);
    }
  } catch (...) {
    for (FlatGroup& g : groups_) g.flat.copy_(g.theta0);
    throw;
  }
  for (FlatGroup& g : groups_) g.flat.copy_(g.theta0);
  return out;
}

void PointEvaluator::DecideFirstLayer(const EvalOptions& options) {
  auto off = [&](const std::string& why) { first_layer_note_ = "off: " + why; };
  if (dtype_ != at::kFloat) return off("reduced precision");
  if (batches_.empty() || batches_.front().empty()) return off("no data");
  // The cached first layer's tail runs on the module as loaded, not on the primitives: for the
  // convolutional networks the primitives take, measured slower (a small CNN: 20 ms a batch against 7 ms),
  // and measuring it costs a large part of the set-up.
  if (onednn_ && options.first_layer == EvalOptions::Choice::kAuto) {
    return off("the model runs on the engine's own oneDNN primitives");
  }
  if (basis_) return off("points run on one frozen graph with fitted constants");
  auto split = SplitAtFirstLayer(module_);
  if (!split.ok()) return off(split.status().message());
  // The layer's tensors must move with the directions, i.e. live in a flat buffer.
  auto in_flat = [&](const at::Tensor& t) {
    if (!t.defined()) return true;
    const auto* p = static_cast<const char*>(t.data_ptr());
    for (const FlatGroup& g : groups_) {
      const auto* begin = static_cast<const char*>(g.flat.data_ptr());
      if (g.flat.scalar_type() == at::kFloat && p >= begin && p < begin + g.flat.nbytes()) return true;
    }
    return false;
  };
  if (!in_flat(split->weight) || !in_flat(split->bias)) {
    return off("the first layer's tensors are not among the tensors the directions move");
  }
  c10::InferenceMode guard;
  const at::Tensor& x0 = batches_.front().front().first;
  at::Tensor h0;
  const double t_head = BestSeconds(1, 2, [&] {
    h0 = RunPart(*split->head, module_, x0);
    (void)h0.sum().item<float>();
  });
  int64_t samples = 0;
  for (const auto& s : splits_) samples += s.data.size();
  const int64_t terms = two_d_ ? 3 : 2;
  const int64_t bytes = terms * samples * (h0.numel() / std::max<int64_t>(1, h0.size(0))) *
                        static_cast<int64_t>(h0.element_size());
  char buf[240];
  if (bytes > options.first_layer_max_bytes) {
    std::snprintf(buf, sizeof buf, "the cache would take %lld MiB (limit %lld MiB)",
                  static_cast<long long>(bytes >> 20), static_cast<long long>(options.first_layer_max_bytes >> 20));
    return off(buf);
  }
  if (options.first_layer == EvalOptions::Choice::kAuto && batch_seconds_ > 0 && t_head < 0.15 * batch_seconds_) {
    // The cache saves at most the head's time; not worth measuring the tail.
    std::snprintf(buf, sizeof buf, "the first layer is %.0f %% of a batch", 100.0 * t_head / batch_seconds_);
    return off(buf);
  }
  if (options.first_layer == EvalOptions::Choice::kAuto) {
    // A batch on the tail (one axpy per term, then the rest of the model) against
    // a batch on the path chosen so far (including per-point freezing, if any).
    at::Tensor h = at::empty_like(h0);
    const double t_tail = BestSeconds(2, 3, [&] {
      at::add_out(h, h0, h0, 0.5);
      if (two_d_) h.add_(h0, 0.25);
      (void)RunPart(*split->tail, module_, h).sum().item<float>();
    });
    const double t_best = batch_seconds_ > 0 ? batch_seconds_ : TimeForward(ForwardModule(), x0);
    if (t_tail > 0.9 * t_best) {
      std::snprintf(buf, sizeof buf, "a batch would take %.2f ms on the cached first layer against %.2f ms without",
                    1e3 * t_tail, 1e3 * t_best);
      return off(buf);
    }
  }
  auto cache = std::make_unique<FirstLayerCache>();
  const std::vector<at::Tensor> y0 = HeadOutputs(*split, &FlatGroup::theta0);
  const std::vector<at::Tensor> yx = HeadOutputs(*split, &FlatGroup::dx);
  const std::vector<at::Tensor> yy = two_d_ ? HeadOutputs(*split, &FlatGroup::dy) : std::vector<at::Tensor>();
  for (size_t s = 0; s < batches_.size(); ++s) {
    std::vector<std::array<at::Tensor, 3>> per_batch;
    int64_t offset = 0;
    for (const auto& b : batches_[s]) {
      const int64_t len = b.first.size(0);
      per_batch.push_back({y0[s].narrow(0, offset, len), yx[s].narrow(0, offset, len),
                           two_d_ ? yy[s].narrow(0, offset, len) : at::Tensor()});
      offset += len;
    }
    cache->terms.push_back(std::move(per_batch));
  }
  cache->batch_shape.assign(h0.sizes().begin(), h0.sizes().end());
  cache->batch_shape[0] = batch_size_;
  std::snprintf(buf, sizeof buf, "%s, %lld MiB", split->layer.c_str(), static_cast<long long>(bytes >> 20));
  first_layer_note_ = buf;
  cache->split = std::move(*split);
  cache_ = std::move(cache);
  if (onednn_) {
    onednn_.reset();
    onednn_note_ = "off: the first layer is cached";
  }
  lanes_measured_.reset();  // measured on the whole model: measure again on its tail
  optimize_ = false;  // the tail runs on the module itself
  optimize_failure_ = "off: the first layer is cached (" + first_layer_note_ + ")";
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

int64_t PointEvaluator::ChooseBatchSize(EvalOptions::Choice data_parallel) {
  // Candidates: powers of two. CPUs: 16..1024 (small batches keep a lane's
  // activations in its core's caches, large ones amortize per-operator overhead;
  // which wins depends on the model). GPUs: 256..16384, stopping at out-of-memory.
  // On CPUs with several threads each size is measured both ways a point can run
  // (each operator on all threads; one batch per single-threaded lane), and the
  // pair with the shortest estimated point wins: the best batch differs between them.
  // Throughput rises with the batch until the caches (CPU) or the device (GPU)
  // are full, then falls or levels off: a way's search stops after two sizes in a
  // row that do not beat its best by 2 % (which also prefers the smaller batch).
  const int64_t n = inputs_.front().size(0);
  const bool gpu = device_.is_cuda();
  const int64_t first = gpu ? 256 : 16, last = gpu ? 16384 : 1024;
  const bool try_lanes = !gpu && threads_ > 1 && data_parallel != EvalOptions::Choice::kOff;
  const bool try_ops = !try_lanes || data_parallel != EvalOptions::Choice::kOn;
  const auto lanes = static_cast<size_t>(threads_);
  torch::jit::Module& m = ForwardModule();
  torch::jit::Method forward = m.get_method("forward");
  const bool graph_optimize = dtype_ == at::kFloat && torch::jit::getGraphExecutorOptimize();
  torch::jit::GraphOptimizerEnabledGuard optimizer(graph_optimize);
  struct Best {
    int64_t batch = 0;
    double point_seconds = 1e300;  // estimated time of a point over the first split
    int worse = 0;                 // sizes in a row that did not improve
  };
  Best ops, in_lanes;
  auto consider = [](Best& best, int64_t batch, double point_seconds) {
    if (point_seconds * 1.02 < best.point_seconds) {
      best = Best{batch, point_seconds, 0};
    } else {
      ++best.worse;
    }
  };
  for (int64_t b = first; b <= std::max(first, std::min(n, last)); b *= 2) {
    const bool go_ops = try_ops && ops.worse < 2, go_lanes = try_lanes && in_lanes.worse < 2;
    if (!go_ops && !go_lanes) break;
    try {
      c10::InferenceMode guard;
      at::Tensor x = inputs_.front().narrow(0, 0, std::min(b, n));
      const int64_t batches = (n + x.size(0) - 1) / x.size(0);
      // Two warm-ups (the graph executor profiles two runs per shape; algorithm
      // selection on GPUs), then the best of enough runs for ~256 samples.
      const int runs = static_cast<int>(std::max<int64_t>(2, 256 / x.size(0)));
      auto pass = [&] { (void)forward({x}).toTensor().sum().item<float>(); };
      // All threads: n / b batches, one after the other (a last, smaller batch costs less).
      if (go_ops) consider(ops, x.size(0), static_cast<double>(n) / static_cast<double>(x.size(0)) * BestSeconds(2, runs, pass));
      if (go_lanes) {
        // Every lane on a batch at once; a point takes ceil(batches / lanes) such rounds.
        LanePool& pool = Lanes(lanes);
        const double t_round = BestSeconds(2, runs, [&] {
          pool.Run([&](size_t) {
            torch::jit::GraphOptimizerEnabledGuard lane_optimizer(graph_optimize);
            c10::InferenceMode lane_guard;
            pass();
          });
        });
        const auto rounds = static_cast<double>((batches + static_cast<int64_t>(lanes) - 1) / static_cast<int64_t>(lanes));
        consider(in_lanes, x.size(0), rounds * t_round);
      }
      if (x.size(0) >= n) break;
    } catch (const std::exception&) {
      break;  // out of memory: the previous size is the largest that fits
    }
  }
  const Best& best = in_lanes.point_seconds < ops.point_seconds ? in_lanes : ops;
  if (best.batch == 0) return batch_size_;
  if (try_lanes && data_parallel == EvalOptions::Choice::kAuto) lanes_measured_ = (&best == &in_lanes);
  return best.batch;
}

LanePool& PointEvaluator::Lanes(size_t lanes) {
  if (!lane_pool_ || lane_pool_->size() != lanes) {
    lane_pool_.reset();
    lane_pool_ = std::make_unique<LanePool>(lanes, threads_);
  }
  return *lane_pool_;
}

Status PointEvaluator::Init(core::DirType type, const io::DirectionSet& dirs) {
  torch::NoGradGuard no_grad;
  std::vector<NamedTensor> theta = CollectTensors(module_, type);
  if (dirs.x.size() != theta.size()) {
    std::ostringstream os;
    os << "the directions have " << dirs.x.size() << " tensors but the model has " << theta.size() << " "
       << (type == core::DirType::kWeights ? "parameters (dir_type weights)" : "state entries (dir_type states)");
    // The other dir_type's count matching says which mistake it is; otherwise the file is another model's.
    const core::DirType other = type == core::DirType::kWeights ? core::DirType::kStates : core::DirType::kWeights;
    if (CollectTensors(module_, other).size() == dirs.x.size()) {
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
  if (basis_) basis_->Set(alpha, beta);
}

torch::jit::Module& PointEvaluator::ForwardModule() {
  const bool convert = dtype_ != at::kFloat;
  if (!optimize_ && !convert) return module_;
  // A copy of the module with the current (aliased) weights: converted to the
  // compute dtype, then frozen (weights baked in as constants) and optimized.
  torch::jit::Module base = module_;
  if (convert) {
    // The point's float32 weights, converted into the reduced-precision copy.
    c10::InferenceMode guard;
    for (size_t i = 0; i < targets_.size(); ++i) targets_[i].copy_(sources_[i]);
    base = reduced_;
  }
  if (optimize_) {
    try {
      torch::jit::Module frozen = torch::jit::freeze(base);
      frozen_ = torch::jit::optimize_for_inference(frozen);
      return frozen_;
    } catch (const std::exception& e) {
      optimize_ = false;
      optimize_failure_ = FirstLine(e);
    }
  }
  frozen_ = base;
  return frozen_;
}

torch::jit::Module PointEvaluator::FrozenPoint() {
  if (dtype_ == at::kFloat) return torch::jit::freeze(module_);
  {
    // The point's float32 weights, converted into the reduced-precision copy (as ForwardModule does).
    c10::InferenceMode guard;
    for (size_t i = 0; i < targets_.size(); ++i) targets_[i].copy_(sources_[i]);
  }
  return torch::jit::freeze(reduced_);
}

namespace {
PointEvaluator::BatchForward OnNet(OnednnNet* net) {
  return [net](const at::Tensor& x, size_t lane) { return net->Forward(x, lane); };
}
PointEvaluator::BatchForward OnModule(torch::jit::Module& module) {
  torch::jit::Method method = module.get_method("forward");
  return [method](const at::Tensor& x, size_t) mutable { return method({x}).toTensor(); };
}
}  // namespace

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

void PointEvaluator::DecideOnednn(const EvalOptions& options) {
  auto off = [&](const std::string& why) { onednn_note_ = "off: " + why; };
  if (options.onednn == EvalOptions::Choice::kOff) return off("--onednn off");
  if (device_.is_cuda()) return off("CUDA device");
  if (dtype_ != at::kFloat && dtype_ != at::kBFloat16) return off("float16");
  if (!options.optimize) return off("--no-optimize");
  // Freezing turned off because it measured slower leaves the primitives a chance; a model that cannot be
  // frozen does not.
  if (!optimize_ && optimize_failure_.rfind("off:", 0) != 0) return off("the model cannot be frozen");
  if (batches_.empty() || batches_.front().empty() || inputs_.front().dim() != 4) return off("no image data");
  std::vector<int64_t> sizes;
  for (const auto& split : batches_) {
    for (const auto& b : split) {
      if (std::find(sizes.begin(), sizes.end(), b.first.size(0)) == sizes.end()) sizes.push_back(b.first.size(0));
    }
  }
  const at::Tensor& x0 = batches_.front().front().first;
  // As Evaluate: reduced precision runs without the graph executor's specializing optimizations (only
  // the forward passes: freezing needs them).
  const bool graph_optimize = dtype_ == at::kFloat && torch::jit::getGraphExecutorOptimize();
  try {
    torch::jit::Module frozen = FrozenPoint();
    OnednnNet::Options o;
    o.dtype = dtype_;
    o.lanes = static_cast<size_t>(std::max(1, threads_));
    // kAuto: Winograd per layer where it measures faster, with the threads a Forward will have (lanes:
    // one); kOn: wherever oneDNN has it.
    if (options.onednn == EvalOptions::Choice::kAuto) {
      o.require_all_convolutions = true;
      o.tune_threads = threads_ > 1 && options.data_parallel != EvalOptions::Choice::kOff ? 1 : threads_;
    }
    auto net = OnednnNet::Create(frozen.get_method("forward").graph(), x0.sizes().slice(1), sizes, o);
    if (!net.ok()) return off(net.status().message());
    c10::InferenceMode guard;
    // Agreement with LibTorch's forward pass on the first batch (Winograd rounds differently).
    const at::Tensor ours = (*net)->Forward(x0, 0);
    at::Tensor theirs;
    {
      torch::jit::GraphOptimizerEnabledGuard optimizer(graph_optimize);
      theirs = frozen.forward({x0}).toTensor();
    }
    const double scale = std::max(1e-6, theirs.abs().max().item<double>());
    const double diff = ours.sizes() == theirs.sizes() ? (ours - theirs).abs().max().item<double>() / scale : 1e300;
    char buf[240];
    // bfloat16 keeps 8 bits of mantissa: two implementations' roundings differ by ~1e-2.
    if (!(diff <= (dtype_ == at::kFloat ? 1e-4 : 3e-2))) {
      std::snprintf(buf, sizeof buf, "its outputs differ from LibTorch's by %.2g of their scale", diff);
      return off(buf);
    }
    if (options.onednn == EvalOptions::Choice::kAuto) {
      // A point: freezing and loading its weights, then its batches; against the path chosen so far, both
      // run the way points will most likely run: with several threads and lanes allowed, one batch per
      // single-threaded lane at once (the two paths rank differently with one thread and with several).
      OnednnNet* n = net->get();
      const BatchForward ours_forward = OnNet(n);
      const BatchForward theirs_forward = OnModule(ForwardModule());
      const bool in_lanes = threads_ > 1 && options.data_parallel != EvalOptions::Choice::kOff;
      auto batch_time = [&](const BatchForward& f) {
        if (!in_lanes) {
          torch::jit::GraphOptimizerEnabledGuard optimizer(graph_optimize);
          return BestSeconds(2, 3, [&] { (void)f(x0, 0).sum().item<float>(); });
        }
        LanePool& pool = Lanes(static_cast<size_t>(threads_));
        const double round = BestSeconds(2, 3, [&] {
          pool.Run([&](size_t l) {
            torch::jit::GraphOptimizerEnabledGuard lane_optimizer(graph_optimize);
            c10::InferenceMode lane_guard;
            (void)f(x0, l).sum().item<float>();
          });
        });
        return round / static_cast<double>(threads_);  // a batch's share of a round
      };
      const double t_net = batch_time(ours_forward);
      const double t_load = BestSeconds(0, 2, [&] {
        torch::jit::Module f = FrozenPoint();
        if (!n->SetWeights(f.get_method("forward").graph()).ok()) throw std::runtime_error("cannot load weights");
      });
      const double t_best = batch_time(theirs_forward);
      // LibTorch's path pays its own per-point freezing when it has one.
      const double t_their_load = optimize_ ? BestSeconds(0, 2, [&] { (void)ForwardModule(); }) : 0.0;
      int64_t n_batches = 0;
      for (const auto& b : batches_) n_batches += static_cast<int64_t>(b.size());
      const double with = t_load + static_cast<double>(n_batches) * t_net;
      const double without = t_their_load + static_cast<double>(n_batches) * t_best;
      if (with > 0.95 * without) {
        std::snprintf(buf, sizeof buf, "a point would take %.1f ms on them against %.1f ms on LibTorch's path",
                      1e3 * with, 1e3 * without);
        return off(buf);
      }
      batch_seconds_ = with / static_cast<double>(n_batches);
    }
    onednn_note_ = (*net)->Description();
    onednn_ = std::move(*net);
    lanes_measured_.reset();  // measured on LibTorch's graph: measure again on the primitives
  } catch (const std::exception& e) {
    onednn_.reset();
    return off(FirstLine(e));
  }
}

void PointEvaluator::DecideCudaGraphs(const EvalOptions& options) {
  auto off = [&](const std::string& why) { graphs_note_ = "off: " + why; };
  if (options.cuda_graphs == EvalOptions::Choice::kOff) return off("--cuda-graphs off");
  if (!device_.is_cuda() && options.cuda_graphs == EvalOptions::Choice::kAuto) return;  // nothing to say on CPUs
  if (onednn_) return off("points run on the engine's own oneDNN primitives");
  if (!options.optimize) return off("--no-optimize");
  // Freezing turned off because it measured slower than it saves still leaves the fitted graph (it
  // freezes once); a model that cannot be frozen does not.
  if (!optimize_ && optimize_failure_.rfind("off:", 0) != 0) return off("the model cannot be frozen");
  if (batches_.empty() || batches_.front().empty()) return off("no data");
  const bool graph_optimize = dtype_ == at::kFloat && torch::jit::getGraphExecutorOptimize();
  // Restored if anything fails after the fitted graph took over: points go back to the path chosen before.
  const bool optimize_before = optimize_;
  const std::string optimize_failure_before = optimize_failure_;
  try {
    // The fit: float32 freezes of the model, optimized as points would be on this device (on CPUs
    // optimize_for_inference packs weights into opaque oneDNN objects, which cannot be rewritten). In
    // reduced precision the graph that runs is the reduced copy's, frozen and optimized as per-point
    // freezing would (the optimizations differ by dtype), its constants from the float32 fit.
    const bool reduced = dtype_ != at::kFloat;
    auto optimized = [this](torch::jit::Module frozen) {
      return device_.is_cuda() ? torch::jit::optimize_for_inference(frozen) : frozen;
    };
    auto freeze_at = [&](double alpha, double beta) {
      SetPoint(alpha, beta);
      return optimized(torch::jit::freeze(module_));
    };
    FrozenBasis::FreezeAt running_at;
    if (reduced) {
      running_at = [&](double alpha, double beta) {
        SetPoint(alpha, beta);
        {
          c10::InferenceMode guard;
          for (size_t i = 0; i < targets_.size(); ++i) targets_[i].copy_(sources_[i]);
        }
        return optimized(torch::jit::freeze(reduced_));
      };
    }
    FrozenBasis::Options bo;
    bo.dtype = dtype_;
    bo.channels_last = channels_last_;
    auto fitted = FrozenBasis::Create(freeze_at, two_d_, bo, running_at);
    if (!fitted.ok()) return off(fitted.status().message());
    FrozenBasis& basis = **fitted;

    // Agreement at the check point with a float32 freeze there (the truth), on the first batch, after the
    // graph executor's warm-up runs (its optimized plan is what points run). In reduced precision the
    // fitted graph must be no further from it than per-point freezing in that precision is.
    // (Freezing runs outside inference mode, as Evaluate's does: frozen under it, a reduced-precision
    // copy of the model could not be frozen again.)
    const at::Tensor& x0 = batches_.front().front().first;
    const at::Tensor x32 = reduced ? splits_.front().data.images.narrow(0, 0, x0.size(0)) : x0;
    torch::jit::Module truth_model = freeze_at(basis.check_alpha(), basis.check_beta());
    torch::jit::Module theirs_model = reduced ? ForwardModule() : truth_model;
    c10::InferenceMode guard;
    at::Tensor truth, theirs, ours;
    {
      torch::jit::GraphOptimizerEnabledGuard optimizer(torch::jit::getGraphExecutorOptimize());
      truth = truth_model.forward({x32}).toTensor().to(at::kFloat);
    }
    {
      torch::jit::GraphOptimizerEnabledGuard optimizer(graph_optimize);
      if (reduced) theirs = theirs_model.forward({x0}).toTensor().to(at::kFloat);
      torch::jit::Method forward = basis.module().get_method("forward");
      for (int i = 0; i < 3; ++i) ours = forward({x0}).toTensor();
      ours = ours.to(at::kFloat);
    }
    const double scale = std::max(1e-6, truth.abs().max().item<double>());
    auto error = [&](const at::Tensor& t) {
      return t.sizes() == truth.sizes() ? (t - truth).abs().max().item<double>() / scale : 1e300;
    };
    const double ours_error = error(ours);
    // float32 convolutions on CUDA run in TF32 by default (cuDNN; 10-bit mantissa, unit roundoff 2^-11):
    // the fitted graph's channels-last kernels round differently from the freeze's (an H100 measured 5.4e-4).
    const bool tf32 = device_.is_cuda() && at::globalContext().allowTF32CuDNN();
    const double fp32_allowed = tf32 ? 8.0 / 2048.0 : 1e-4;
    const double allowed = dtype_ == at::kFloat ? fp32_allowed : std::max(1e-4, 1.5 * error(theirs));
    char buf[300];
    if (!(ours_error <= allowed)) {
      std::snprintf(buf, sizeof buf, "the fitted graph's outputs differ from a freeze's by %.2g of their scale "
                    "(allowed %.2g)", ours_error, allowed);
      return off(buf);
    }
    std::snprintf(buf, sizeof buf, "one frozen graph, %s; outputs within %.1g of a float32 freeze",
                  basis.description().c_str(), ours_error);
    std::string note = buf;
    basis_ = std::move(*fitted);
    optimize_ = true;
    optimize_failure_.clear();

    if (!device_.is_cuda()) {
      graphs_note_ = note + "; no CUDA graphs on CPUs";
      return;
    }
    // Each split's batches, loss and accuracy sums captured as one CUDA graph over the fitted graph.
    torch::jit::GraphOptimizerEnabledGuard optimizer(graph_optimize);
    const BatchForward forward = OnModule(basis_->module());
    const auto acc_opts = at::TensorOptions().device(device_);
    std::vector<std::unique_ptr<CapturedWork>> captured;
    for (size_t s = 0; s < splits_.size(); ++s) {
      graph_loss_.push_back(at::zeros({}, acc_opts.dtype(at::kDouble)));
      graph_correct_.push_back(at::zeros({}, acc_opts.dtype(at::kLong)));
      auto work = [this, s, &forward] {
        graph_loss_[s].zero_();
        graph_correct_[s].zero_();
        AccumulateBatches(forward, 0, s, 0, batches_[s].size(), 1, 0.0, 0.0, graph_loss_[s], graph_correct_[s]);
      };
      auto c = CapturedWork::Capture(device_.index(), work);
      if (!c.ok()) {
        graph_loss_.clear();
        graph_correct_.clear();
        graphs_note_ = note + "; " + c.status().message();
        return;
      }
      captured.push_back(std::move(*c));
    }
    // A replay at another point must see that point's constants: against the same kernels launched one by
    // one (the split's losses agree to the device's summation order).
    SetPoint(-0.25, two_d_ ? 0.5 : 0.0);
    captured.front()->Replay();
    const double replayed = graph_loss_.front().item<double>();
    at::Tensor l = at::zeros({}, acc_opts.dtype(at::kDouble)), c = at::zeros({}, acc_opts.dtype(at::kLong));
    AccumulateBatches(forward, 0, 0, 0, batches_.front().size(), 1, 0.0, 0.0, l, c);
    const double direct = l.item<double>();
    if (!(std::fabs(replayed - direct) <= 1e-5 * std::max(1.0, std::fabs(direct)))) {
      graph_loss_.clear();
      graph_correct_.clear();
      std::snprintf(buf, sizeof buf, "; no CUDA graphs: a replay's loss sum %.9g differs from the direct run's %.9g",
                    replayed, direct);
      graphs_note_ = note + buf;
      return;
    }
    captured_ = std::move(captured);
    graphs_note_ = note + "; each split replayed as one CUDA graph";
  } catch (const std::exception& e) {
    captured_.clear();
    graph_loss_.clear();
    graph_correct_.clear();
    basis_.reset();
    optimize_ = optimize_before;
    optimize_failure_ = optimize_failure_before;
    return off(FirstLine(e));
  }
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

void PointEvaluator::DecideDataParallel(EvalOptions::Choice choice) {
  data_parallel_ = 1;
  if (choice == EvalOptions::Choice::kOff || device_.is_cuda() || threads_ <= 1 || batches_.empty()) return;
  const size_t lanes = static_cast<size_t>(threads_);
  if (choice == EvalOptions::Choice::kOn) {
    data_parallel_ = threads_;
    return;
  }
  if (lanes_measured_.has_value()) {  // decided with the batch size, at that size
    if (*lanes_measured_) data_parallel_ = threads_;
    else lane_pool_.reset();
    return;
  }
  // Both ways on the same batches of the first split (up to four per lane), in
  // alternating rounds so that a change in the machine's load hits both alike; the
  // best round of each counts (the gain is 5-20 % on convolutional networks, within
  // a single round's noise on a shared machine).
  const size_t end = std::min(batches_.front().size(), 4 * lanes);
  if (end < lanes) return;
  const BatchForward forward = PointForward();
  torch::jit::GraphOptimizerEnabledGuard optimizer(dtype_ == at::kFloat && torch::jit::getGraphExecutorOptimize());
  c10::InferenceMode guard;
  const auto acc_opts = at::TensorOptions().device(device_);
  at::Tensor l = at::zeros({}, acc_opts.dtype(at::kDouble)), c = at::zeros({}, acc_opts.dtype(at::kLong));
  auto ops = [&] {
    AccumulateBatches(forward, 0, 0, 0, end, 1, 0.0, 0.0, l, c);
    (void)l.item<double>();
  };
  auto in_lanes = [&] {
    AccumulateInLanes(forward, 0, end, lanes, 0.0, 0.0, l, c);
    (void)l.item<double>();
  };
  double t_ops = BestSeconds(1, 1, ops), t_lanes = BestSeconds(1, 1, in_lanes);
  for (int round = 0; round < 2; ++round) {
    t_ops = std::min(t_ops, BestSeconds(0, 1, ops));
    t_lanes = std::min(t_lanes, BestSeconds(0, 1, in_lanes));
  }
  if (t_lanes < 0.95 * t_ops) data_parallel_ = threads_;
  else lane_pool_.reset();  // the lanes' threads are not needed
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
