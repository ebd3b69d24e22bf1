// The "first_layer" path: the first layer's output for θ0, dx and dy computed once over every batch
// (first_layer.h), so that a point costs one axpy per term instead of the first layer, then the rest of
// the model on the module as loaded; and the selector's step that builds the cache when the options
// allow and (kAuto) it measures faster than the path chosen so far.
#include <array>
#include <cstdio>

#include "first_layer.h"
#include "measure.h"
#include "path_selector.h"

namespace landscape::engine {
namespace {

class FirstLayerPath : public ForwardPath {
 public:
  FirstLayerPath(EvalState& state, FirstLayerSplit split) : ForwardPath(state), split_(std::move(split)) {}
  std::string name() const override { return "first_layer"; }
  void AccumulateBatches(size_t lane, size_t s, size_t first, size_t end, size_t stride, double alpha, double beta,
                         at::Tensor& loss_sum, at::Tensor& correct) override;

  // Per split, per batch: the layer's output for θ0, dx, dy (dy undefined for 1-D).
  std::vector<std::vector<std::array<at::Tensor, 3>>> terms;
  std::vector<int64_t> batch_shape;  // the layer's output for a full batch (each lane allocates one)

 private:
  FirstLayerSplit split_;
};

void FirstLayerPath::AccumulateBatches(size_t /*lane*/, size_t s, size_t first, size_t end, size_t stride,
                                       double alpha, double beta, at::Tensor& loss_sum, at::Tensor& correct) {
  const auto& batches = state_.batches[s];
  at::Tensor h;  // the cached first layer's output for one batch (per thread)
  for (size_t b = first; b < end; b += stride) {
    // The first layer's output at this point from its cached terms, then the rest of the model.
    const auto& t = terms[s][b];
    if (!h.defined()) h = at::empty(batch_shape, t[0].options());
    at::Tensor hb = h.narrow(0, 0, t[0].size(0));
    at::add_out(hb, t[0], t[1], alpha);
    if (state_.two_d) hb.add_(t[2], beta);
    AccumulateBatch(RunPart(*split_.tail, state_.module, hb), batches[b].second, state_.loss, loss_sum, correct);
  }
}

// The first layer's output over every batch of every split, with the flat buffers set to `term` (θ0, dx
// or dy); θ0 is restored after.
std::vector<at::Tensor> HeadOutputs(EvalState& st, const FirstLayerSplit& split, PointWeights::Term term) {
  c10::InferenceMode guard;
  st.weights.SetTerm(term);
  std::vector<at::Tensor> out;
  try {
    for (const auto& batches : st.batches) {
      at::Tensor all;
      int64_t offset = 0;
      for (const auto& [x, y] : batches) {
        at::Tensor h = RunPart(*split.head, st.module, x);
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
    st.weights.SetTerm(PointWeights::Term::kTheta0);
    throw;
  }
  st.weights.SetTerm(PointWeights::Term::kTheta0);
  return out;
}

// The path with its cache filled; `h0`: the layer's output for the first batch.
std::unique_ptr<FirstLayerPath> Cache(EvalState& st, FirstLayerSplit split, const at::Tensor& h0) {
  const std::vector<at::Tensor> y0 = HeadOutputs(st, split, PointWeights::Term::kTheta0);
  const std::vector<at::Tensor> yx = HeadOutputs(st, split, PointWeights::Term::kDx);
  const std::vector<at::Tensor> yy =
      st.two_d ? HeadOutputs(st, split, PointWeights::Term::kDy) : std::vector<at::Tensor>();
  auto path = std::make_unique<FirstLayerPath>(st, std::move(split));
  for (size_t s = 0; s < st.batches.size(); ++s) {
    std::vector<std::array<at::Tensor, 3>> per_batch;
    int64_t offset = 0;
    for (const auto& b : st.batches[s]) {
      const int64_t len = b.first.size(0);
      per_batch.push_back({y0[s].narrow(0, offset, len), yx[s].narrow(0, offset, len),
                           st.two_d ? yy[s].narrow(0, offset, len) : at::Tensor()});
      offset += len;
    }
    path->terms.push_back(std::move(per_batch));
  }
  path->batch_shape.assign(h0.sizes().begin(), h0.sizes().end());
  path->batch_shape[0] = st.batch_size;
  return path;
}

// kAuto: "" when a batch on the cached layer's tail (one axpy per term, then the rest of the model)
// measures faster than a batch on the path chosen so far (including per-point freezing, if any); else why
// not. `t_head`: the first layer's time on a batch.
std::string MeasuredSlower(Selecting& s, const FirstLayerSplit& split, const at::Tensor& h0, double t_head) {
  EvalState& st = s.state;
  char buf[240];
  if (s.batch_seconds > 0 && t_head < 0.15 * s.batch_seconds) {
    // The cache saves at most the head's time; not worth measuring the tail.
    std::snprintf(buf, sizeof buf, "the first layer is %.0f %% of a batch", 100.0 * t_head / s.batch_seconds);
    return buf;
  }
  at::Tensor h = at::empty_like(h0);
  const double t_tail = BestSeconds(2, 3, [&] {
    at::add_out(h, h0, h0, 0.5);
    if (st.two_d) h.add_(h0, 0.25);
    (void)RunPart(*split.tail, st.module, h).sum().item<float>();
  });
  const at::Tensor& x0 = st.batches.front().front().first;
  double t_best = s.batch_seconds;
  if (t_best <= 0) {
    BatchForwardPath& path = s.PrepareLibTorch();
    t_best = BestSeconds(2, 3, [&] { (void)path.Forward(x0, 0).sum().item<float>(); });
  }
  if (t_tail > 0.9 * t_best) {
    std::snprintf(buf, sizeof buf, "a batch would take %.2f ms on the cached first layer against %.2f ms without",
                  1e3 * t_tail, 1e3 * t_best);
    return buf;
  }
  return "";
}

}  // namespace

void DecideFirstLayer(Selecting& s) {
  EvalState& st = s.state;
  const EvalOptions& options = s.options;
  if (options.first_layer == EvalOptions::Choice::kOff) return;
  auto off = [&](const std::string& why) { s.choice.first_layer_note = "off: " + why; };
  if (st.dtype != at::kFloat) return off("reduced precision");
  if (st.batches.empty() || st.batches.front().empty()) return off("no data");
  // The cached first layer's tail runs on the module as loaded, not on the primitives: for the
  // convolutional networks the primitives take, measured slower (a small CNN: 20 ms a batch against 7 ms),
  // and measuring it costs a large part of the set-up.
  if (s.kind == PathKind::kOnednn && options.first_layer == EvalOptions::Choice::kAuto) {
    return off("the model runs on the engine's own oneDNN primitives");
  }
  if (s.kind == PathKind::kFitted) return off("points run on one frozen graph with fitted constants");
  auto split = SplitAtFirstLayer(st.module);
  if (!split.ok()) return off(split.status().message());
  // The layer's tensors must move with the directions, i.e. live in a flat buffer.
  if (!st.weights.InFloat32Buffer(split->weight) || !st.weights.InFloat32Buffer(split->bias)) {
    return off("the first layer's tensors are not among the tensors the directions move");
  }
  c10::InferenceMode guard;
  const at::Tensor& x0 = st.batches.front().front().first;
  at::Tensor h0;
  const double t_head = BestSeconds(1, 2, [&] {
    h0 = RunPart(*split->head, st.module, x0);
    (void)h0.sum().item<float>();
  });
  int64_t samples = 0;
  for (const auto& sp : st.splits) samples += sp.data.size();
  const int64_t terms = st.two_d ? 3 : 2;
  const int64_t bytes = terms * samples * (h0.numel() / std::max<int64_t>(1, h0.size(0))) *
                        static_cast<int64_t>(h0.element_size());
  char buf[240];
  if (bytes > options.first_layer_max_bytes) {
    std::snprintf(buf, sizeof buf, "the cache would take %lld MiB (limit %lld MiB)",
                  static_cast<long long>(bytes >> 20), static_cast<long long>(options.first_layer_max_bytes >> 20));
    return off(buf);
  }
  if (options.first_layer == EvalOptions::Choice::kAuto) {
    const std::string slower = MeasuredSlower(s, *split, h0, t_head);
    if (!slower.empty()) return off(slower);
  }
  std::snprintf(buf, sizeof buf, "%s, %lld MiB", split->layer.c_str(), static_cast<long long>(bytes >> 20));
  s.other = Cache(st, std::move(*split), h0);
  s.choice.first_layer_note = buf;
  if (s.kind == PathKind::kOnednn) s.choice.onednn_note = "off: the first layer is cached";
  s.kind = PathKind::kFirstLayer;
  s.lanes_measured.reset();  // measured on the whole model: measure again on its tail
  s.choice.optimized = false;  // the tail runs on the module itself
  s.choice.optimize_failure = "off: the first layer is cached (" + s.choice.first_layer_note + ")";
  s.UseLibTorch();
}

}  // namespace landscape::engine
