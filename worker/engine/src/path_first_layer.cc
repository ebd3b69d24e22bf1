#include "evaluator.h"

#include <cstdio>

#include "measure.h"

namespace landscape::engine {

using core::Result;
using core::Status;
using core::StatusCode;

std::vector<at::Tensor> PointEvaluator::HeadOutputs(const FirstLayerSplit& split, PointWeights::Term term) {
  c10::InferenceMode guard;
  weights_.SetTerm(term);
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
    weights_.SetTerm(PointWeights::Term::kTheta0);
    throw;
  }
  weights_.SetTerm(PointWeights::Term::kTheta0);
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
  if (!weights_.InFloat32Buffer(split->weight) || !weights_.InFloat32Buffer(split->bias)) {
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
  const std::vector<at::Tensor> y0 = HeadOutputs(*split, PointWeights::Term::kTheta0);
  const std::vector<at::Tensor> yx = HeadOutputs(*split, PointWeights::Term::kDx);
  const std::vector<at::Tensor> yy = two_d_ ? HeadOutputs(*split, PointWeights::Term::kDy) : std::vector<at::Tensor>();
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

}  // namespace landscape::engine
