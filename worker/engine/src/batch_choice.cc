// The selector's steps on the batch size and the lanes (path_selector.h): the auto batch size (measured
// on LibTorch's path, both ways a point can run on CPUs), and whether a point's batches run on one
// single-threaded lane per thread or with each operator on all threads.
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <algorithm>

#include "measure.h"
#include "path_selector.h"

namespace landscape::engine {
namespace {

struct Best {
  int64_t batch = 0;
  double point_seconds = 1e300;  // estimated time of a point over the first split
  int worse = 0;                 // sizes in a row that did not improve
};

void Consider(Best& best, int64_t batch, double point_seconds) {
  if (point_seconds * 1.02 < best.point_seconds) {
    best = Best{batch, point_seconds, 0};
  } else {
    ++best.worse;
  }
}

// The batch size with the shortest measured point; on CPUs with several threads (data_parallel not kOff)
// also whether lanes were faster at it (s.lanes_measured).
int64_t ChooseBatchSize(Selecting& s) {
  // Candidates: powers of two. CPUs: 16..1024 (small batches keep a lane's
  // activations in its core's caches, large ones amortize per-operator overhead;
  // which wins depends on the model). GPUs: 256..16384, stopping at out-of-memory.
  // On CPUs with several threads each size is measured both ways a point can run
  // (each operator on all threads; one batch per single-threaded lane), and the
  // pair with the shortest estimated point wins: the best batch differs between them.
  // Throughput rises with the batch until the caches (CPU) or the device (GPU)
  // are full, then falls or levels off: a way's search stops after two sizes in a
  // row that do not beat its best by 2 % (which also prefers the smaller batch).
  EvalState& st = s.state;
  const EvalOptions::Choice data_parallel = s.options.data_parallel;
  const int64_t n = st.inputs.front().size(0);
  const bool gpu = st.device.is_cuda();
  const int64_t first = gpu ? 256 : 16, last = gpu ? 16384 : 1024;
  const bool try_lanes = !gpu && st.threads > 1 && data_parallel != EvalOptions::Choice::kOff;
  const bool try_ops = !try_lanes || data_parallel != EvalOptions::Choice::kOn;
  const auto lanes = static_cast<size_t>(st.threads);
  BatchForwardPath& path = s.PrepareLibTorch();
  const bool graph_optimize = st.GraphOptimize();
  torch::jit::GraphOptimizerEnabledGuard optimizer(graph_optimize);
  Best ops, in_lanes;
  for (int64_t b = first; b <= std::max(first, std::min(n, last)); b *= 2) {
    const bool go_ops = try_ops && ops.worse < 2, go_lanes = try_lanes && in_lanes.worse < 2;
    if (!go_ops && !go_lanes) break;
    try {
      c10::InferenceMode guard;
      at::Tensor x = st.inputs.front().narrow(0, 0, std::min(b, n));
      const int64_t batches = (n + x.size(0) - 1) / x.size(0);
      // Two warm-ups (the graph executor profiles two runs per shape; algorithm
      // selection on GPUs), then the best of enough runs for ~256 samples.
      const int runs = static_cast<int>(std::max<int64_t>(2, 256 / x.size(0)));
      auto pass = [&] { (void)path.Forward(x, 0).sum().item<float>(); };
      // All threads: n / b batches, one after the other (a last, smaller batch costs less).
      if (go_ops) {
        Consider(ops, x.size(0), static_cast<double>(n) / static_cast<double>(x.size(0)) * BestSeconds(2, runs, pass));
      }
      if (go_lanes) {
        // Every lane on a batch at once; a point takes ceil(batches / lanes) such rounds.
        LanePool& pool = s.lanes.Get(lanes, st.threads);
        const double t_round = BestSeconds(2, runs, [&] {
          pool.Run([&](size_t) {
            torch::jit::GraphOptimizerEnabledGuard lane_optimizer(graph_optimize);
            c10::InferenceMode lane_guard;
            pass();
          });
        });
        const auto per_round = static_cast<int64_t>(lanes);
        const auto rounds = static_cast<double>((batches + per_round - 1) / per_round);
        Consider(in_lanes, x.size(0), rounds * t_round);
      }
      if (x.size(0) >= n) break;
    } catch (const std::exception&) {
      break;  // out of memory: the previous size is the largest that fits
    }
  }
  const Best& best = in_lanes.point_seconds < ops.point_seconds ? in_lanes : ops;
  if (best.batch == 0) return st.batch_size;
  if (try_lanes && data_parallel == EvalOptions::Choice::kAuto) s.lanes_measured = (&best == &in_lanes);
  return best.batch;
}

}  // namespace

void ChooseBatches(Selecting& s) {
  if (s.options.auto_batch) s.state.batch_size = ChooseBatchSize(s);
  s.state.MakeBatches();
}

void DecideDataParallel(Selecting& s) {
  EvalState& st = s.state;
  const EvalOptions::Choice choice = s.options.data_parallel;
  s.choice.lanes = 1;
  if (choice == EvalOptions::Choice::kOff || st.device.is_cuda() || st.threads <= 1 || st.batches.empty()) return;
  const size_t lanes = static_cast<size_t>(st.threads);
  if (choice == EvalOptions::Choice::kOn) {
    s.choice.lanes = st.threads;
    return;
  }
  if (s.lanes_measured.has_value()) {  // decided with the batch size, at that size
    if (*s.lanes_measured) s.choice.lanes = st.threads;
    else s.lanes.Reset();
    return;
  }
  // Both ways on the same batches of the first split (up to four per lane), in
  // alternating rounds so that a change in the machine's load hits both alike; the
  // best round of each counts (the gain is 5-20 % on convolutional networks, within
  // a single round's noise on a shared machine).
  const size_t end = std::min(st.batches.front().size(), 4 * lanes);
  if (end < lanes) return;
  ForwardPath& path = s.PrepareChosen();
  torch::jit::GraphOptimizerEnabledGuard optimizer(st.GraphOptimize());
  c10::InferenceMode guard;
  const auto acc_opts = at::TensorOptions().device(st.device);
  at::Tensor l = at::zeros({}, acc_opts.dtype(at::kDouble)), c = at::zeros({}, acc_opts.dtype(at::kLong));
  auto ops = [&] {
    path.AccumulateBatches(0, 0, 0, end, 1, 0.0, 0.0, l, c);
    (void)l.item<double>();
  };
  auto in_lanes = [&] {
    AccumulateInLanes(path, st, s.lanes.Get(lanes, st.threads), 0, end, lanes, 0.0, 0.0, l, c);
    (void)l.item<double>();
  };
  double t_ops = BestSeconds(1, 1, ops), t_lanes = BestSeconds(1, 1, in_lanes);
  for (int round = 0; round < 2; ++round) {
    t_ops = std::min(t_ops, BestSeconds(0, 1, ops));
    t_lanes = std::min(t_lanes, BestSeconds(0, 1, in_lanes));
  }
  if (t_lanes < 0.95 * t_ops) s.choice.lanes = st.threads;
  else s.lanes.Reset();  // the lanes' threads are not needed
}

}  // namespace landscape::engine
