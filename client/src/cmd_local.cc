// `landscape local`: the whole computation in this process (no server, no Redis).
#include <csignal>
#include <cstdio>
#include <filesystem>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "commands.h"
#include "exit_codes.h"
#include "landscape/core/architectures.h"
#include "landscape/core/point_scheduler.h"
#include "landscape/core/sha256.h"
#include "landscape/core/system.h"
#include "landscape/engine/engine.h"
#include "landscape/io/hdf5_files.h"
#include "landscape/io/summary.h"
#include "plots.h"
#include "progress.h"

namespace landscape::client {

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

// What a surface depends on beyond its spec: the contents of every file the spec names (model, arch,
// model2, model3, checkpoints, a given direction file, a tensor data file), as one sha256 over
// "field=sha256" lines. A resumed run must find the same, or a model retrained under the same name
// would continue with the old model's values. Data directories and built-in data sets are named only;
// an unreadable file counts as "?" (the engine reports it, naming the field).
std::string InputsFingerprint(const core::JobSpec& spec) {
  std::vector<std::pair<std::string, std::string>> files;
  const core::ModelSpec& m = spec.model;
  const std::string arch_file = core::IsArchitectureName(m.arch) ? "" : m.arch;  // a built-in is in the spec
  for (const auto& [field, path] : {std::pair<std::string, std::string>{"model", m.model}, {"arch", arch_file},
                                    {"model2", m.model2}, {"model3", m.model3}}) {
    if (!path.empty()) files.emplace_back(field, path);
  }
  for (size_t i = 0; i < m.checkpoints.size(); ++i) files.emplace_back("checkpoint" + std::to_string(i), m.checkpoints[i]);
  if (spec.directions.kind == core::DirectionKind::kFile) files.emplace_back("dir_file", spec.directions.file);
  if (auto src = core::ParseDataSource(spec.data.source); src.ok() && src->kind == core::DataSource::Kind::kTensor) {
    files.emplace_back("data", src->location);
  }
  std::string lines;
  for (const auto& [field, path] : files) {
    auto sha = core::Sha256File(path);
    lines += field + "=" + (sha.ok() ? *sha : std::string("?")) + "\n";
  }
  return core::Sha256Hex(lines);
}

std::string SiblingPath(const std::string& out, const std::string& suffix) {
  std::filesystem::path p(out);
  if (p.extension() == ".h5") p.replace_extension("");
  return p.string() + suffix;
}

std::string FormatPoint(const io::Surface& s, size_t k) {
  char buf[96];
  if (s.is_2d()) {
    std::snprintf(buf, sizeof buf, "(x=%.4g, y=%.4g)", s.x[k % s.nx()], s.y[k / s.nx()]);
  } else {
    std::snprintf(buf, sizeof buf, "(x=%.4g)", s.x[k]);
  }
  return buf;
}

void PrintMetricSummary(const io::Surface& s) {
  for (const auto& m : s.metric_names) {
    const auto& v = s.metrics.at(m);
    size_t lo = SIZE_MAX, hi = SIZE_MAX, nan = 0;
    for (size_t k = 0; k < v.size(); ++k) {
      if (!s.done[k]) continue;
      if (!std::isfinite(v[k])) {
        ++nan;
        continue;
      }
      if (lo == SIZE_MAX || v[k] < v[lo]) lo = k;
      if (hi == SIZE_MAX || v[k] > v[hi]) hi = k;
    }
    if (lo == SIZE_MAX) continue;
    std::fprintf(stderr, "  %-10s min %.6g at %s, max %.6g at %s%s\n", m.c_str(), v[lo], FormatPoint(s, lo).c_str(),
                 v[hi], FormatPoint(s, hi).c_str(), nan ? (", " + std::to_string(nan) + " NaN").c_str() : "");
  }
}

// What a point is evaluated on, for the log.
std::string EvaluationPath(const engine::EngineInfo& info) {
  std::string path = info.first_layer_cached ? "the model after its cached first layer"
                     : info.onednn ? "landscape's own oneDNN primitives (BatchNorm folded, Winograd convolutions, "
                                     "fused ReLUs and additions)"
                     : info.cuda_graphs ? "one frozen graph with fitted constants, each split replayed as a CUDA graph"
                     : info.constants_fitted ? "one frozen graph with its constants fitted to the point"
                     : info.optimized ? "a frozen, optimized graph (BatchNorm folded, oneDNN layouts)"
                                      : "the model as loaded";
  path += ", " + info.precision + ", batch " + std::to_string(info.batch_size);
  if (info.lanes > 1) path += ", batches split over " + std::to_string(info.lanes) + " single-threaded lanes";
  return path;
}

// The engines for devices[1..] (engines holds the first's), reading `spec`'s direction file. GPUs set up
// at once, each in a thread of its own; CPU engines one after another, so that the measurements choosing
// each one's path do not compete for the cores.
core::Status CreateMoreEngines(const core::JobSpec& spec, const engine::EngineOptions& first_opts,
                               const std::vector<std::string>& devices,
                               std::vector<std::unique_ptr<engine::Engine>>* engines) {
  const size_t more = devices.size() - 1;
  std::vector<std::unique_ptr<engine::Engine>> made(more);
  std::vector<core::Status> errors(more);
  auto create = [&](size_t i) {
    engine::EngineOptions o = first_opts;
    o.device = devices[i + 1];
    auto e = engine::Engine::Create(spec, o);
    if (e.ok()) {
      made[i] = std::move(*e);
    } else {
      errors[i] = e.status().WithContext(devices[i + 1]);
    }
  };
  const bool all_gpus = std::none_of(devices.begin(), devices.end(), [](const std::string& d) { return d == "cpu"; });
  if (all_gpus) {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < more; ++i) threads.emplace_back(create, i);
    for (auto& t : threads) t.join();
  } else {
    for (size_t i = 0; i < more; ++i) {
      create(i);
      if (!errors[i].ok()) break;
    }
  }
  for (size_t i = 0; i < more; ++i) {
    if (!errors[i].ok()) return errors[i];
    if (!made[i]) continue;
    const engine::EngineInfo& in = made[i]->info();
    std::fprintf(stderr, "landscape: also on %s (%d threads): set up in %.2f s; points evaluated on %s\n",
                 in.device.c_str(), in.threads, in.load_seconds + in.setup_seconds, EvaluationPath(in).c_str());
    engines->push_back(std::move(made[i]));
  }
  return core::Status::Ok();
}

}  // namespace

void PrintTrajectory(const io::DirectionSet& dirs, const io::Projection& p) {
  if (dirs.pca && dirs.pca->explained_variance_ratio.size() >= 2) {
    const auto& r = dirs.pca->explained_variance_ratio;
    std::fprintf(stderr, "landscape: PCA explained variance: PC1 %.2f %%, PC2 %.2f %% (together %.2f %%)\n",
                 100 * r[0], 100 * r[1], 100 * (r[0] + r[1]));
  }
  auto col = [&](const char* name, size_t i) {
    auto it = p.extra.find(name);
    return it != p.extra.end() && i < it->second.size() ? it->second[i] : NAN;
  };
  std::fprintf(stderr, "  %4s %10s %10s %12s %9s %11s %11s\n", "ckpt", "x", "y", "off-plane", "relative",
               "loss", "loss@proj");
  double xmin = 0, xmax = 0, ymin = 0, ymax = 0;
  for (size_t i = 0; i < p.x.size(); ++i) {
    std::fprintf(stderr, "  %4zu %10.4g %10.4g %12.4g %8.1f%% %11.5g %11.5g\n", i, p.x[i], p.y[i],
                 col("distance_from_plane", i), 100 * col("relative_distance", i), col("loss_true", i),
                 col("loss_projected", i));
    xmin = std::min(xmin, p.x[i]);
    xmax = std::max(xmax, p.x[i]);
    ymin = std::min(ymin, p.y[i]);
    ymax = std::max(ymax, p.y[i]);
  }
  const double mx = 0.25 * (xmax - xmin), my = 0.25 * (ymax - ymin);
  std::fprintf(stderr, "landscape: the path spans x [%.4g, %.4g], y [%.4g, %.4g]; e.g. --x %.3g:%.3g:41 --y %.3g:%.3g:41\n",
               xmin, xmax, ymin, ymax, xmin - mx, xmax + mx, ymin - my, ymax + my);
}

bool HaveEngine() { return true; }

namespace {

// One `landscape local` run, filled in step by step by RunLocal (each step's contract says which fields
// it reads and which it sets).
struct LocalRun {
  std::chrono::steady_clock::time_point t_start;  // when RunLocal began
  std::string key;       // core::ComputationKey of the spec: a resumed file must carry the same
  std::string inputs;    // InputsFingerprint of the spec: a resumed file that records one must match
  io::Surface surface;   // the resumed surface, else a new one from StampSurface on
  bool resumed = false;  // surface was read from --out
  std::vector<std::string> devices;  // one engine per entry (engine::ExpandDevices of --device)
  engine::EngineOptions eopts;       // the first engine's options; the others differ only in the device
  core::JobSpec run_spec;            // what the engines are made from: the spec, or a resumed run's own directions
  std::vector<std::unique_ptr<engine::Engine>> engines;  // engines[e] runs on devices[e]
  std::string dir_file;              // the surface's direction file (given, or written by SetUpEngines)
  int64_t total = 0;                 // points in the grid
  int64_t already = 0;               // points done before this run (a resumed surface's)
  int64_t done = 0;                  // points done now (already + this run's)
  std::vector<int64_t> per_device;   // points this run evaluated on each engine
  double eval_seconds = 0;           // wall time of EvaluateGrid's evaluation
};

// Step "resume": with an existing --out and no --overwrite, reads it into run->surface and sets
// run->resumed. Refuses (kAlreadyExists, naming --out) a file computed with another spec (run->key) or
// from other contents of the input files (run->inputs, when the file records them), and an unreadable
// one. Without a file to resume (or with --overwrite) it changes nothing.
core::Status ResumeSurface(const LocalOptions& opts, LocalRun* run) {
  if (opts.overwrite || !std::filesystem::exists(opts.out)) return core::Status::Ok();
  auto existing = io::ReadSurfaceFile(opts.out);
  if (!existing.ok()) return existing.status().WithContext("cannot resume --out (use --overwrite)");
  auto it = existing->attributes.find("computation_key");
  if (it == existing->attributes.end() || it->second != run->key) {
    return core::Status(core::StatusCode::kAlreadyExists,
                        opts.out + " exists and was computed with a different spec; use --overwrite or another --out",
                        "--out");
  }
  auto seen = existing->attributes.find("inputs_sha256");  // absent in files of older versions
  if (seen != existing->attributes.end() && seen->second != run->inputs) {
    return core::Status(core::StatusCode::kAlreadyExists,
                        opts.out + " was computed from other contents of the input files (a model, checkpoint, "
                                   "direction or data file changed since); use --overwrite or another --out",
                        "--out");
  }
  run->surface = std::move(*existing);
  run->resumed = true;
  return core::Status::Ok();
}

// The first engine's options from the flags, for `devices` (non-empty). CPU engines share the cores this
// process owns, unless --threads says how many each gets.
engine::EngineOptions FirstEngineOptions(const LocalOptions& opts, const std::vector<std::string>& devices) {
  const size_t cpu_engines = static_cast<size_t>(std::count(devices.begin(), devices.end(), "cpu"));
  engine::EngineOptions eopts = opts.engine;
  eopts.device = devices[0];
  eopts.threads = opts.engine.threads > 0 || cpu_engines < 2
                      ? opts.engine.threads
                      : std::max(1, core::CoresOwned() / static_cast<int>(cpu_engines));
  return eopts;
}

// The first engine's set-up on stderr: data, directions, device, timings, evaluation path and its notes.
void PrintEngineInfo(const engine::EngineInfo& info) {
  for (const auto& d : info.data) std::fprintf(stderr, "landscape: data: %s\n", d.c_str());
  std::fprintf(stderr, "landscape: %lld direction tensors, %lld entries; device %s, %d threads\n",
               static_cast<long long>(info.direction_tensors), static_cast<long long>(info.parameters),
               info.device.c_str(), info.threads);
  std::fprintf(stderr, "landscape: loaded in %.2f s (model and data), directions %.2f s, evaluation set up in %.2f s\n",
               info.load_seconds, info.directions_seconds, info.setup_seconds);
  std::fprintf(stderr, "landscape: points evaluated on %s\n", EvaluationPath(info).c_str());
  if (info.notes.count("target_weights")) {
    std::fprintf(stderr, "landscape: warning: %s\n", info.notes.at("target_weights").c_str());
  }
  if (info.notes.count("optimization")) {
    std::fprintf(stderr, "landscape: optimization %s\n", info.notes.at("optimization").c_str());
  }
  if (info.notes.count("first_layer")) {
    std::fprintf(stderr, "landscape: first-layer cache %s\n", info.notes.at("first_layer").c_str());
  }
  if (info.notes.count("onednn")) std::fprintf(stderr, "landscape: oneDNN primitives: %s\n", info.notes.at("onednn").c_str());
  if (info.notes.count("cuda_graphs")) {
    std::fprintf(stderr, "landscape: fitted graph and CUDA graphs: %s\n", info.notes.at("cuda_graphs").c_str());
  }
  if (std::isfinite(info.xy_cosine)) {
    std::fprintf(stderr, "landscape: cosine(x, y) = %.3g\n", info.xy_cosine);
  }
}

// Writes the first engine's direction file (unless the spec reads one: then run->dir_file is that file)
// and, for a trajectory, its projection file <out>.proj.h5 (printed). Sets run->dir_file.
core::Status WriteDirectionOutputs(const LocalOptions& opts, LocalRun* run) {
  const engine::Engine& first = *run->engines[0];
  const core::JobSpec& spec = run->run_spec;
  run->dir_file = spec.directions.kind == core::DirectionKind::kFile ? spec.directions.file : "";
  if (run->dir_file.empty()) {
    run->dir_file = opts.dir_out.empty() ? SiblingPath(opts.out, ".dirs.h5") : opts.dir_out;
    core::Status s = io::WriteDirectionFile(run->dir_file, first.directions());
    if (!s.ok()) return s;
  }
  if (const io::Projection* proj = first.trajectory()) {
    const std::string proj_file = SiblingPath(opts.out, ".proj.h5");
    core::Status ps = io::WriteProjectionFile(proj_file, *proj);
    if (!ps.ok()) return ps;
    PrintTrajectory(first.directions(), *proj);
    std::fprintf(stderr, "landscape: wrote the projection %s\n", proj_file.c_str());
  }
  return core::Status::Ok();
}

// Step "set up the engines": one engine per device (`--device cuda:0,cuda:1`, `cuda:all`, or `cpu`
// repeated). The first makes the directions (a resumed run reuses its own direction file: the same
// directions, without recomputing them) and is described on stderr; its direction file is written; the
// others read that file. Reads run->surface and run->resumed; sets devices, eopts, run_spec, engines and
// dir_file. Errors name the device when there are several.
core::Status SetUpEngines(const LocalOptions& opts, LocalRun* run) {
  const core::JobSpec& spec = opts.spec;
  auto devices = engine::ExpandDevices(opts.engine.device);
  if (!devices.ok()) return devices.status();
  run->devices = std::move(*devices);
  run->eopts = FirstEngineOptions(opts, run->devices);
  run->run_spec = spec;
  if (run->resumed && spec.directions.kind != core::DirectionKind::kFile && !run->surface.dir_file.empty() &&
      std::filesystem::exists(run->surface.dir_file)) {
    run->run_spec = core::WithDirectionFile(spec, run->surface.dir_file);
  }
  std::fprintf(stderr, "landscape: loading model, data and directions...\n");
  auto first = engine::Engine::Create(run->run_spec, run->eopts);
  if (!first.ok()) return run->devices.size() > 1 ? first.status().WithContext(run->devices[0]) : first.status();
  run->engines.push_back(std::move(*first));
  PrintEngineInfo(run->engines[0]->info());
  core::Status written = WriteDirectionOutputs(opts, run);
  if (!written.ok()) return written;
  if (run->devices.size() == 1) return core::Status::Ok();
  return CreateMoreEngines(core::WithDirectionFile(run->run_spec, run->dir_file), run->eopts, run->devices,
                           &run->engines);
}

// Step "the surface's records": a new surface for the grid unless resumed, and its attributes: the first
// engine's notes, the direction file, the spec, the computation key, the inputs' fingerprint, the
// versions and the labels. Sets run->total and run->already.
void StampSurface(const core::JobSpec& spec, LocalRun* run) {
  io::Surface& surface = run->surface;
  if (!run->resumed) surface = io::NewSurface(spec.grid, spec.MetricNames(), run->dir_file);
  for (const auto& [k, v] : run->engines[0]->info().notes) surface.attributes[k] = v;
  surface.dir_file = run->dir_file;
  surface.attributes["spec"] = core::SpecToJson(spec);
  surface.attributes["computation_key"] = run->key;
  surface.attributes["inputs_sha256"] = run->inputs;
  for (const auto& [k, v] : engine::EngineVersions()) surface.attributes["version_" + k] = v;
  for (const auto& [k, v] : spec.labels) surface.attributes["label_" + k] = v;
  run->total = static_cast<int64_t>(surface.PointCount());
  run->already = static_cast<int64_t>(surface.DoneCount());
}

// Step "evaluate the grid": every point not yet done, shared out to the engines (each, in a thread of its
// own when there are several, takes the next undone point when free), with progress on stderr and the
// partial surface rewritten to --out at most every --save-interval seconds. Stops taking points at
// SIGINT/SIGTERM (g_stop), at an engine's error (the first one goes to *failure, naming its device when
// there are several) and at a failed save. Returns that failed save (then the progress line is left
// unfinished); else sets run->eval_seconds. Updates run->surface, done and per_device.
core::Status EvaluateGrid(const LocalOptions& opts, LocalRun* run, core::Status* failure) {
  const core::JobSpec& spec = opts.spec;
  io::Surface& surface = run->surface;
  if (run->resumed) {
    std::fprintf(stderr, "landscape: resuming %s: %lld of %lld points already computed\n", opts.out.c_str(),
                 static_cast<long long>(run->already), static_cast<long long>(run->total));
  }
  ProgressReporter progress(run->total, run->already, stderr, ProgressFlag(opts.progress));
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  const std::vector<double> xs = surface.x;
  const std::vector<double> ys = surface.y;
  const size_t n_engines = run->engines.size();
  // The points not yet done, each handed to the first engine free (core/point_scheduler.h).
  core::PointScheduler points(std::vector<bool>(surface.done.begin(), surface.done.end()));
  // Shared by the engines' threads, guarded by mu: the surface, the counts, the progress, the saves.
  std::mutex mu;
  run->done = run->already;
  run->per_device.assign(n_engines, 0);
  auto last_save = std::chrono::steady_clock::now();
  core::Status save_failure;
  const auto t_eval = std::chrono::steady_clock::now();
  auto evaluate_points = [&](size_t e) {
    while (const std::optional<int64_t> k = points.Next()) {
      if (g_stop.load()) return points.Stop();  // an interrupt: the point taken stays undone
      const auto p = spec.grid.PointAt(*k, xs, ys);
      auto v = run->engines[e]->Evaluate(p.alpha, p.beta);
      if (!v.ok()) return points.Stop(n_engines > 1 ? v.status().WithContext(run->devices[e]) : v.status());
      std::lock_guard<std::mutex> lock(mu);
      engine::StorePoint(*v, *k, &surface);
      ++run->done;
      ++run->per_device[e];
      char detail[96];
      const std::string m0 = surface.metric_names.empty() ? "" : surface.metric_names[0];
      std::snprintf(detail, sizeof detail, "%s=%.4g", m0.c_str(), v->Get(m0));
      progress.Update(run->done, detail);
      if (std::chrono::duration<double>(std::chrono::steady_clock::now() - last_save).count() > opts.save_interval_s) {
        save_failure = io::WriteSurfaceFile(opts.out, surface);
        last_save = std::chrono::steady_clock::now();
        if (!save_failure.ok()) return points.Stop();
      }
    }
  };
  core::PointScheduler::RunConsumers(n_engines, evaluate_points);
  *failure = points.failure();
  if (!save_failure.ok()) return save_failure;
  run->eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_eval).count();
  progress.Finish();
  return core::Status::Ok();
}

// Step "save": writes the surface to --out, also after an engine's error (`failure`) or an interrupt, so
// that the points done so far are kept for a resume. Returns the exit code when the run ends here (a
// failed write or `failure`: Report's; interrupted: kExitInterrupted, saying how to resume), or nullopt
// when every point is done and the outputs come next.
std::optional<int> SaveSurface(const LocalOptions& opts, const LocalRun& run, const core::Status& failure) {
  core::Status s = io::WriteSurfaceFile(opts.out, run.surface);
  if (!s.ok()) return Report(s);
  if (!failure.ok()) {
    std::fprintf(stderr, "landscape: %lld of %lld points saved to %s\n", static_cast<long long>(run.done),
                 static_cast<long long>(run.total), opts.out.c_str());
    return Report(failure);
  }
  if (g_stop.load()) {
    std::fprintf(stderr, "landscape: interrupted; %lld of %lld points saved to %s; run the same command to resume\n",
                 static_cast<long long>(run.done), static_cast<long long>(run.total), opts.out.c_str());
    return kExitInterrupted;
  }
  return std::nullopt;
}

// "cpu 10, cuda:0 30": the points this run evaluated on each device; "" with one engine or no new point.
std::string PointsPerDevice(const LocalRun& run) {
  std::string out;
  for (size_t e = 0; e < run.engines.size() && run.engines.size() > 1 && run.done > run.already; ++e) {
    out += (e ? ", " : "") + run.devices[e] + " " + std::to_string(run.per_device[e]);
  }
  return out;
}

// The --json summary's context: spec, labels, versions, timings in seconds (load, directions, setup,
// evaluate, total, and per_point when this run computed any), devices, threads and the surface file.
io::SummaryContext LocalSummaryContext(const LocalOptions& opts, const LocalRun& run,
                                       const std::string& points_per_device) {
  const engine::EngineInfo& info = run.engines[0]->info();
  io::SummaryContext ctx;
  ctx.spec_json = run.surface.attributes.at("spec");
  ctx.labels = opts.spec.labels;
  ctx.versions = engine::EngineVersions();
  ctx.timings["load"] = info.load_seconds;
  ctx.timings["directions"] = info.directions_seconds;
  ctx.timings["setup"] = info.setup_seconds;
  ctx.timings["evaluate"] = run.eval_seconds;
  ctx.timings["total"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - run.t_start).count();
  const int64_t computed = run.done - run.already;
  if (computed > 0) ctx.timings["per_point"] = run.eval_seconds / static_cast<double>(computed);
  std::string device_list;
  for (const auto& en : run.engines) device_list += (device_list.empty() ? "" : ",") + en->info().device;
  ctx.extra["device"] = device_list;
  if (!points_per_device.empty()) ctx.extra["points_per_device"] = points_per_device;
  ctx.extra["threads"] = std::to_string(info.threads);
  ctx.extra["surface_file"] = opts.out;
  return ctx;
}

// Step "outputs": the summary on stderr (files, points per device, each metric's range), then --csv,
// --json and the --plot pictures. The first failed write is returned (later outputs are not written).
core::Status WriteOutputs(const LocalOptions& opts, const LocalRun& run) {
  const io::Surface& surface = run.surface;
  std::fprintf(stderr, "landscape: wrote %s (%zu x %zu) and directions %s\n", opts.out.c_str(), surface.nx(),
               surface.ny(), run.dir_file.c_str());
  const std::string points_per_device = PointsPerDevice(run);
  if (!points_per_device.empty()) std::fprintf(stderr, "landscape: points per device: %s\n", points_per_device.c_str());
  PrintMetricSummary(surface);
  if (!opts.csv.empty()) {
    core::Status c = io::WriteSurfaceCsv(opts.csv, surface);
    if (!c.ok()) return c;
    std::fprintf(stderr, "landscape: wrote %s\n", opts.csv.c_str());
  }
  if (!opts.json.empty()) {
    const io::SummaryContext ctx = LocalSummaryContext(opts, run, points_per_device);
    core::Status j = io::WriteTextFile(opts.json, io::SurfaceSummaryJson(surface, ctx));
    if (!j.ok()) return j;
    std::fprintf(stderr, "landscape: wrote %s\n", opts.json.c_str());
  }
  if (!opts.plots.empty()) return DrawDefaultPlots(opts.out, surface, opts.plots);
  return core::Status::Ok();
}

}  // namespace

// The steps in order; each step's error ends the run with its exit code (Report), an interrupt with
// kExitInterrupted after the partial surface is saved.
int RunLocal(const LocalOptions& opts) {
  LocalRun run;
  run.t_start = std::chrono::steady_clock::now();
  if (opts.out.empty()) return Report(core::InvalidArgument("--out", "a surface file is required"));
  run.key = core::ComputationKey(opts.spec);
  run.inputs = InputsFingerprint(opts.spec);
  if (core::Status s = ResumeSurface(opts, &run); !s.ok()) return Report(s);
  if (core::Status s = SetUpEngines(opts, &run); !s.ok()) return Report(s);
  StampSurface(opts.spec, &run);
  core::Status failure;  // an engine's error: the points done so far are still saved
  if (core::Status s = EvaluateGrid(opts, &run, &failure); !s.ok()) return Report(s);
  if (std::optional<int> code = SaveSurface(opts, run, failure)) return *code;
  if (core::Status s = WriteOutputs(opts, run); !s.ok()) return Report(s);
  return kExitOk;
}

}  // namespace landscape::client
