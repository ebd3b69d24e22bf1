// Engine throughput against a pure forward pass, measured in one process.
//
// The engine evaluates a grid point as: set θ + α·dx + β·dy, then a full pass
// over the data computing loss and accuracy. Its ideal speed is that of a
// plain forward pass of the same model over the same data (same threads,
// process, allocator; each forward pass at its own best batch size). This
// benchmark reports both and their ratio (target ≥ 0.95); runs alternate to
// cancel machine noise, and the medians are compared.
//
//   engine_bench [--arch resnet20] [--model M.pt] [--data fashion-mnist] [--samples 10000]
//                [--batch 128] [--points 3] [--rounds 3] [--json F] [--dirs-out F] [--grid-side 51]
//                [the engine's flags, as `landscape local`'s: --device cpu (this benchmark's default)
//                 --threads N --precision bf16 --channels-last --auto-batch --no-optimize --first-layer
//                 --data-parallel --onednn --cuda-graphs --cudnn-benchmark --data-root]
//   engine_bench --help lists them all.
#include <ATen/Parallel.h>
#include <torch/script.h>

#include <CLI/CLI.hpp>

#include "landscape/io/hdf5_files.h"

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "datasets.h"
#include "evaluator.h"
#include "landscape/core/system.h"
#include "landscape/engine/engine.h"
#include "landscape/engine/flags.h"
#include "landscape/engine/train.h"
#include "landscape/io/summary.h"

using namespace landscape;
using Clock = std::chrono::steady_clock;

namespace {

// EngineOptions' defaults, but on the CPU.
engine::EngineOptions BenchEngineOptions() {
  engine::EngineOptions e;
  e.device = "cpu";
  return e;
}

struct Options {
  std::string arch = "resnet20";
  std::string model;  // a TorchScript file instead of --arch
  std::string data = "fashion-mnist";
  int64_t samples = 0;  // 0 = the whole split
  int64_t batch = 128;
  int points = 3;
  int rounds = 3;
  std::string json;
  std::string dirs_out;  // write the engine's directions (for reference_loop.py)
  int64_t grid_side = 51;  // extrapolate the time of a grid_side x grid_side surface
  /// The engine's options, from the same flags as `landscape local`'s (flags.h); the device defaults to
  /// "cpu" here, so that a run measures the same device on every machine unless --device says otherwise.
  landscape::engine::EngineOptions engine = BenchEngineOptions();
  const char* precision() const { return landscape::engine::ToString(engine.precision); }
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The command line into `o`: the benchmark's own flags and the engine's, the device resolved, the threads and
// the data root filled in. -1 when it parsed, else the exit code (0 after --help; 2, usage, for a bad flag or
// value, with a message naming it).
int ParseArgs(int argc, char** argv, Options* o) {
  CLI::App app{"engine_bench: the engine's surface throughput against a pure forward pass, in one process"};
  app.add_option("--arch", o->arch, "built-in architecture to export for the data's shape")->capture_default_str();
  app.add_option("--model", o->model, "a TorchScript model instead of --arch");
  app.add_option("--data", o->data, "fashion-mnist | mnist | idx:DIR | cifar10:DIR | synthetic:N:CxHxW | FILE.pt")
      ->capture_default_str();
  app.add_option("--samples", o->samples, "training samples evaluated (0 = the whole split)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--batch", o->batch, "the engine's evaluation batch size (with --auto-batch: measured)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--points", o->points, "grid points the engine evaluates per round")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--rounds", o->rounds, "rounds of alternating runs (medians compared)")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--json", o->json, "also write the run's numbers as one JSON line to this file");
  app.add_option("--dirs-out", o->dirs_out, "write the engine's directions (for bench/reference_loop.py)");
  app.add_option("--grid-side", o->grid_side, "extrapolate the time of a grid-side x grid-side surface")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  engine::AddEngineFlags(&app, &o->engine);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  auto device = engine::ResolveDevice(o->engine.device);
  if (!device.ok()) {
    std::fprintf(stderr, "--device: %s\n", device.status().message().c_str());
    return 2;
  }
  o->engine.device = *device;
  if (o->engine.threads <= 0) o->engine.threads = core::CoresOwned();
  if (o->engine.data_root.empty()) o->engine.data_root = engine::DefaultDataRoot();
  return -1;
}

// The forward passes' dtype for `p`.
at::ScalarType DtypeOf(engine::Precision p) {
  switch (p) {
    case engine::Precision::kBf16: return at::kBFloat16;
    case engine::Precision::kFp16: return at::kHalf;
    case engine::Precision::kFp32: break;
  }
  return at::kFloat;
}

// One timed forward pass over `bs`, seconds (waits for the device).
double ForwardPass(torch::jit::Module& m, const std::vector<at::Tensor>& bs) {
  c10::InferenceMode guard;
  const auto t0 = Clock::now();
  at::Tensor out;
  for (const auto& b : bs) out = m.forward({b}).toTensor();
  (void)out.sum().item<float>();  // waits for the device
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// `all` in batches of `b` samples (the last one shorter).
std::vector<at::Tensor> Split(const at::Tensor& all, int64_t b) {
  std::vector<at::Tensor> bs;
  for (int64_t s = 0; s < all.size(0); s += b) bs.push_back(all.narrow(0, s, std::min(b, all.size(0) - s)));
  return bs;
}

// A baseline's own best batch size, out of the engine's `batch` and 64..1024, picked on the first 2,048
// samples (best of two passes after a warm-up).
int64_t BestBatch(torch::jit::Module& m, const at::Tensor& all, int64_t batch) {
  const at::Tensor probe = all.narrow(0, 0, std::min<int64_t>(all.size(0), 2048));
  int64_t best = batch;
  double best_rate = 0;
  for (int64_t b : {batch, int64_t{64}, int64_t{128}, int64_t{256}, int64_t{512}, int64_t{1024}}) {
    if (b > probe.size(0) && b != batch) continue;
    const auto bs = Split(probe, b);
    ForwardPass(m, bs);  // warm-up: the graph executor profiles each new shape
    const double rate = static_cast<double>(probe.size(0)) / std::min(ForwardPass(m, bs), ForwardPass(m, bs));
    if (rate > best_rate) {
      best_rate = rate;
      best = b;
    }
  }
  return best;
}

// The model converted to `dtype` (NHWC weights with --channels-last, as the engine does), frozen and optimized
// when it can be: the best reduced-precision forward pass.
torch::jit::Module ReducedModel(const std::string& path, const c10::Device& device, at::ScalarType dtype,
                                const Options& o) {
  torch::jit::Module reduced = torch::jit::load(path, device);
  reduced.eval();
  reduced.to(dtype);
  if (o.engine.channels_last) engine::WeightsToChannelsLast(reduced);
  try {
    torch::jit::Module frozen_reduced = torch::jit::freeze(reduced);
    reduced = torch::jit::optimize_for_inference(frozen_reduced);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "(the %s model cannot be frozen: its baseline runs as loaded)\n", o.precision());
  }
  return reduced;
}

// The evaluation path the engine chose, as one word.
const char* PathName(const engine::EngineInfo& einfo) {
  return einfo.first_layer_cached ? "first_layer"
         : einfo.onednn           ? "onednn"
         : einfo.cuda_graphs      ? "cuda_graphs"
         : einfo.constants_fitted ? "fitted"
         : einfo.optimized        ? "optimized"
                                  : "plain";
}

// The largest differences between `eng` and an engine made with `other` options, over `points` points of
// `xs` at beta 0.25: relative train loss, and train accuracy in points. ok=false (printed) when the other engine
// or an evaluation fails.
struct Difference {
  bool ok = false;
  double loss = 0, accuracy = 0;
};
Difference CompareEngines(engine::Engine& eng, const core::JobSpec& spec, const engine::EngineOptions& other,
                          const std::vector<double>& xs, int points, const std::string& what) {
  Difference d;
  auto ref = engine::Engine::Create(spec, other);
  if (!ref.ok()) {
    std::printf("  %s: the reference engine: %s\n", what.c_str(), ref.status().ToString().c_str());
    return d;
  }
  for (int p = 0; p < points; ++p) {
    const double a = xs[static_cast<size_t>(p) % xs.size()];
    auto v1 = eng.Evaluate(a, 0.25);
    auto v0 = (*ref)->Evaluate(a, 0.25);
    if (!v1.ok() || !v0.ok()) {
      std::printf("  %s: evaluation failed: %s\n", what.c_str(),
                  (!v1.ok() ? v1.status() : v0.status()).ToString().c_str());
      return d;
    }
    d.loss = std::max(d.loss, std::fabs(v1->train_loss - v0->train_loss) / std::fabs(v0->train_loss));
    d.accuracy = std::max(d.accuracy, std::fabs(v1->train_acc - v0->train_acc));
  }
  d.ok = true;
  return d;
}

// What --json writes: one line of the run's numbers.
struct JsonRecord {
  const Options& o;
  long long samples, batch;
  int threads;
  double plain_rate, opt_rate, eng_rate, red_rate, ratio;
  const char* path;
  int lanes;
  double loss_rel_diff, fitted_rel_diff;  // NaN: not measured (null)
  long long forward_batches[3];
};
std::string JsonLine(const JsonRecord& r) {
  const Options& o = r.o;
  char diff[32] = "null";
  if (!std::isnan(r.loss_rel_diff)) std::snprintf(diff, sizeof diff, "%.4g", r.loss_rel_diff);
  char fitted[32] = "null";
  if (!std::isnan(r.fitted_rel_diff)) std::snprintf(fitted, sizeof fitted, "%.4g", r.fitted_rel_diff);
  char buf[1280];
  std::snprintf(buf, sizeof buf,
                "{\"bench\": \"engine\", \"model\": \"%s\", \"samples\": %lld, \"batch\": %lld, \"threads\": %d, "
                "\"forward_plain_samples_per_s\": %.3f, \"forward_optimized_samples_per_s\": %.3f, "
                "\"engine_point_samples_per_s\": %.3f, \"ratio\": %.4f, \"peak_rss_bytes\": %ld, "
                "\"engine_path\": \"%s\", \"lanes\": %d, \"precision\": \"%s\", \"channels_last\": %s, "
                "\"forward_reduced_samples_per_s\": %.3f, \"loss_rel_diff_vs_fp32\": %s, "
                "\"forward_batches\": [%lld, %lld, %lld], \"fitted_loss_rel_diff\": %s}\n",
                o.model.empty() ? o.arch.c_str() : o.model.c_str(), r.samples, r.batch, r.threads, r.plain_rate,
                r.opt_rate, r.eng_rate, r.ratio, core::PeakRssBytes(), r.path, r.lanes, o.precision(),
                o.engine.channels_last ? "true" : "false", r.red_rate, diff, r.forward_batches[0], r.forward_batches[1],
                r.forward_batches[2], fitted);
  return buf;
}

// --model, or the built-in --arch exported for the data's shape into the temporary directory.
core::Result<std::string> ModelPath(const Options& o, const engine::Dataset& ds) {
  if (!o.model.empty()) return o.model;
  const std::string path = (std::filesystem::temp_directory_path() / ("engine_bench_" + o.arch + ".pt")).string();
  const auto& sz = ds.images.sizes();
  LS_RETURN_IF_ERROR(engine::ExportArchitecture(o.arch, {sz[1], sz[2], sz[3]}, 10, 1, path));
  return path;
}

// A baseline's line of the report: its batch, rate (samples/s) and pass times (seconds).
void PrintForward(const std::string& what, int64_t batch, double rate, const std::vector<double>& times) {
  std::printf("  pure forward, %s, batch %lld: %10.1f samples/s (median of %zu passes, %.3f s each)\n", what.c_str(),
              static_cast<long long>(batch), rate, times.size(), Median(times));
}

// The engine's lines of the report: its notes, its rate, and the time of a --grid-side² surface.
void PrintEngine(const engine::EngineInfo& einfo, const Options& o, const std::vector<double>& eng_t,
                 double eng_rate) {
  if (einfo.notes.count("onednn")) std::printf("  engine's oneDNN primitives: %s\n", einfo.notes.at("onednn").c_str());
  if (einfo.notes.count("cuda_graphs")) std::printf("  fitted graph / CUDA graphs: %s\n", einfo.notes.at("cuda_graphs").c_str());
  if (einfo.notes.count("optimization")) std::printf("  optimization: %s\n", einfo.notes.at("optimization").c_str());
  std::printf("  engine surface (%s, %d lane(s), %s, batch %lld): %10.1f point-samples/s (median of %zu points, %.3f s each)\n",
              PathName(einfo), einfo.lanes, o.precision(), static_cast<long long>(einfo.batch_size), eng_rate,
              eng_t.size(), Median(eng_t));
  std::printf("  a %lldx%lld surface over these samples would take %.1f s on this device\n",
              static_cast<long long>(o.grid_side), static_cast<long long>(o.grid_side),
              Median(eng_t) * static_cast<double>(o.grid_side * o.grid_side));
}

// What the faster paths cost in accuracy (NaN: not measured): reduced precision against fp32, and the fitted
// graph against per-point freezing, each the largest relative train-loss difference; printed as measured.
struct Accuracy {
  double loss_rel_diff = NAN, fitted_rel_diff = NAN;
};
Accuracy MeasureAccuracy(engine::Engine& eng, const core::JobSpec& spec, const engine::EngineOptions& eopts,
                         bool reduced, const std::vector<double>& xs, const Options& o) {
  Accuracy a;
  if (reduced) {
    engine::EngineOptions fp32 = eopts;
    fp32.precision = engine::Precision::kFp32;
    fp32.channels_last = false;
    const Difference d = CompareEngines(eng, spec, fp32, xs, o.points, std::string(o.precision()) + " vs fp32");
    if (d.ok) {
      std::printf("  %s vs fp32: largest relative loss difference %.3g over %d points\n", o.precision(), d.loss,
                  o.points);
      a.loss_rel_diff = d.loss;
    }
  }
  if (eng.info().constants_fitted) {
    engine::EngineOptions per_point = eopts;
    per_point.cuda_graphs = engine::Toggle::kOff;
    const Difference d = CompareEngines(eng, spec, per_point, xs, o.points, "fitted vs per-point freezing");
    if (d.ok) {
      std::printf("  fitted graph vs per-point freezing (%s): largest relative loss difference %.3g, accuracy %.3g "
                  "points, over %d points\n", o.precision(), d.loss, d.accuracy, o.points);
      a.fitted_rel_diff = d.loss;
    }
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  core::PrepareComputeProcess(argv);
  Options o;
  if (const int rc = ParseArgs(argc, argv, &o); rc >= 0) return rc;
  engine::ConfigureTorchRuntime(o.engine);  // the same runtime settings for the baselines as for the engine
  const int threads = o.engine.threads;
  at::set_num_threads(threads);

  core::DataSpec data;
  data.source = o.data;
  data.max_samples = o.samples;
  auto ds = engine::LoadDatasetSplit(data, true, o.engine.data_root);
  if (!ds.ok()) {
    std::fprintf(stderr, "%s\n", ds.status().ToString().c_str());
    return 1;
  }
  auto model = ModelPath(o, *ds);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
    return 1;
  }
  const std::string model_path = *model;

  // The baseline: a plain forward pass over the same batches.
  const c10::Device device(o.engine.device);
  torch::jit::Module module = torch::jit::load(model_path, device);
  module.eval();
  at::Tensor images = ds->images.to(device);
  // The best forward pass we can get: the same model frozen and optimized for inference.
  torch::jit::Module frozen = torch::jit::freeze(module);
  torch::jit::Module optimized = torch::jit::optimize_for_inference(frozen);
  auto forward_pass = [](torch::jit::Module& m, const std::vector<at::Tensor>& bs) { return ForwardPass(m, bs); };
  // With reduced precision: the forward pass of the converted model, the best such pass.
  const at::ScalarType dtype = DtypeOf(o.engine.precision);
  torch::jit::Module reduced = ReducedModel(model_path, device, dtype, o);
  core::JobSpec spec;
  spec.model.model = model_path;
  spec.data = data;
  spec.data.batch_size = o.batch;
  spec.grid.x = {-1, 1, std::max(2, o.points)};
  spec.grid.y = core::AxisSpec{-1, 1, 2};
  const engine::EngineOptions& eopts = o.engine;
  auto eng = engine::Engine::Create(spec, eopts);
  if (!eng.ok()) {
    std::fprintf(stderr, "%s\n", eng.status().ToString().c_str());
    return 1;
  }
  // The baselines: each forward pass at its own best batch size, out of the engine's
  // batch and 64..1024, picked on the first 2,048 samples (best of two passes).
  const int64_t batch = (*eng)->info().batch_size;
  auto split = [](const at::Tensor& all, int64_t b) { return Split(all, b); };
  auto best_batch = [&](torch::jit::Module& m, const at::Tensor& all) { return BestBatch(m, all, batch); };
  at::Tensor reduced_images = images.to(dtype);
  if (o.engine.channels_last) reduced_images = reduced_images.contiguous(at::MemoryFormat::ChannelsLast);
  const bool reduced_on = dtype != at::kFloat || o.engine.channels_last;
  const int64_t plain_batch = best_batch(module, images), opt_batch = best_batch(optimized, images);
  const int64_t red_batch = reduced_on ? best_batch(reduced, reduced_images) : batch;
  const std::vector<at::Tensor> batches = split(images, plain_batch), opt_batches = split(images, opt_batch);
  const std::vector<at::Tensor> reduced_batches = split(reduced_images, red_batch);

  const auto xs = spec.grid.x.Coordinates();

  if (auto s = o.dirs_out.empty() ? core::Status::Ok() : io::WriteDirectionFile(o.dirs_out, (*eng)->directions());
      !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  forward_pass(module, batches);  // warm-up (oneDNN primitive caches, cuDNN algorithms, allocator)
  forward_pass(optimized, opt_batches);
  if (reduced_on) forward_pass(reduced, reduced_batches);
  (void)(*eng)->Evaluate(0.1, 0.1);
  std::vector<double> fwd, fwd_opt, fwd_red, eng_t;
  for (int r = 0; r < o.rounds; ++r) {
    fwd.push_back(forward_pass(module, batches));
    fwd_opt.push_back(forward_pass(optimized, opt_batches));
    if (reduced_on) fwd_red.push_back(forward_pass(reduced, reduced_batches));
    for (int p = 0; p < o.points; ++p) {
      const auto t0 = Clock::now();
      auto v = (*eng)->Evaluate(xs[static_cast<size_t>(p) % xs.size()], 0.25);
      eng_t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      if (!v.ok()) {
        std::fprintf(stderr, "%s\n", v.status().ToString().c_str());
        return 1;
      }
    }
  }
  const double n = static_cast<double>(ds->size());
  const double plain_rate = n / Median(fwd);
  const double opt_rate = n / Median(fwd_opt);
  const double red_rate = reduced_on ? n / Median(fwd_red) : 0.0;
  const double fwd_rate = std::max({plain_rate, opt_rate, red_rate});
  const double eng_rate = n / Median(eng_t);
  const double ratio = eng_rate / fwd_rate;
  std::printf("engine_bench: %s, %lld samples of %s, batch %lld, %d threads\n",
              o.model.empty() ? o.arch.c_str() : o.model.c_str(), static_cast<long long>(ds->size()), o.data.c_str(),
              static_cast<long long>(batch), threads);
  PrintForward("as loaded", plain_batch, plain_rate, fwd);
  PrintForward("frozen+optimized", opt_batch, opt_rate, fwd_opt);
  if (reduced_on) {
    PrintForward(o.precision() + std::string(o.engine.channels_last ? " NHWC" : "") + " frozen+opt.", red_batch,
                 red_rate, fwd_red);
  }
  const engine::EngineInfo& einfo = (*eng)->info();
  const char* path = PathName(einfo);
  PrintEngine(einfo, o, eng_t, eng_rate);
  const Accuracy acc = MeasureAccuracy(**eng, spec, eopts, dtype != at::kFloat, xs, o);
  const double loss_rel_diff = acc.loss_rel_diff, fitted_rel_diff = acc.fitted_rel_diff;
  std::printf("  ratio engine / best forward = %.3f (target >= 0.95); optimized / plain forward = %.3f\n", ratio,
              opt_rate / plain_rate);
  std::printf("  peak RSS %.1f MiB\n", static_cast<double>(core::PeakRssBytes()) / (1 << 20));
  if (!o.json.empty()) {
    JsonRecord r{o, static_cast<long long>(ds->size()), static_cast<long long>(batch), threads, plain_rate, opt_rate,
                 eng_rate, red_rate, ratio, path, (*eng)->info().lanes, loss_rel_diff, fitted_rel_diff,
                 {static_cast<long long>(plain_batch), static_cast<long long>(opt_batch),
                  static_cast<long long>(red_batch)}};
    (void)io::WriteTextFile(o.json, JsonLine(r));
  }
  return 0;
}
