// `landscape local`: the whole computation in this process (no server, no Redis).
#include <csignal>
#include <cstdio>
#include <filesystem>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

#include "commands.h"
#include "exit_codes.h"
#include "landscape/core/architectures.h"
#include "landscape/core/progress.h"
#include "landscape/core/sha256.h"
#include "landscape/core/system.h"
#include "landscape/engine/engine.h"
#include "landscape/io/hdf5_files.h"
#include "landscape/io/summary.h"
#include "plots.h"

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

int RunLocal(const LocalOptions& opts) {
  const auto t_start = std::chrono::steady_clock::now();
  const core::JobSpec& spec = opts.spec;
  if (opts.out.empty()) return Report(core::InvalidArgument("--out", "a surface file is required"));
  const std::string key = core::ComputationKey(spec);
  const std::string inputs = InputsFingerprint(spec);

  // Resume an existing surface computed with the same spec, unless --overwrite.
  io::Surface surface;
  bool resumed = false;
  if (!opts.overwrite && std::filesystem::exists(opts.out)) {
    auto existing = io::ReadSurfaceFile(opts.out);
    if (!existing.ok()) return Report(existing.status().WithContext("cannot resume --out (use --overwrite)"));
    auto it = existing->attributes.find("computation_key");
    if (it == existing->attributes.end() || it->second != key) {
      return Report(core::Status(core::StatusCode::kAlreadyExists,
                                 opts.out + " exists and was computed with a different spec; use --overwrite or "
                                            "another --out",
                                 "--out"));
    }
    auto seen = existing->attributes.find("inputs_sha256");  // absent in files of older versions
    if (seen != existing->attributes.end() && seen->second != inputs) {
      return Report(core::Status(core::StatusCode::kAlreadyExists,
                                 opts.out + " was computed from other contents of the input files (a model, "
                                            "checkpoint, direction or data file changed since); use --overwrite or "
                                            "another --out",
                                 "--out"));
    }
    surface = std::move(*existing);
    resumed = true;
  }

  // One engine per device (`--device cuda:0,cuda:1`, `cuda:all`, or `cpu` repeated); the first makes the
  // directions, the others read them from its direction file, and points go to whichever is free.
  auto devices_or = engine::ExpandDevices(opts.device);
  if (!devices_or.ok()) return Report(devices_or.status());
  const std::vector<std::string> devices = std::move(*devices_or);
  const size_t cpu_engines = static_cast<size_t>(std::count(devices.begin(), devices.end(), "cpu"));
  engine::EngineOptions eopts;
  eopts.device = devices[0];
  // CPU engines share the cores this process owns, unless --threads says how many each gets.
  eopts.threads = opts.threads > 0 || cpu_engines < 2
                      ? opts.threads
                      : std::max(1, core::CoresOwned() / static_cast<int>(cpu_engines));
  eopts.optimize = !opts.no_optimize;
  eopts.precision = opts.precision;
  eopts.first_layer = opts.first_layer;
  eopts.data_parallel = opts.data_parallel;
  eopts.onednn = opts.onednn;
  eopts.cuda_graphs = opts.cuda_graphs;
  eopts.channels_last = opts.channels_last;
  eopts.auto_batch = opts.auto_batch;
  core::JobSpec run_spec = spec;
  // A resumed run reuses its own direction file: the same directions, without recomputing them.
  if (resumed && spec.directions.kind != core::DirectionKind::kFile && !surface.dir_file.empty() &&
      std::filesystem::exists(surface.dir_file)) {
    run_spec = core::WithDirectionFile(spec, surface.dir_file);
  }
  std::fprintf(stderr, "landscape: loading model, data and directions...\n");
  std::vector<std::unique_ptr<engine::Engine>> engines;
  {
    auto first = engine::Engine::Create(run_spec, eopts);
    if (!first.ok()) return Report(devices.size() > 1 ? first.status().WithContext(devices[0]) : first.status());
    engines.push_back(std::move(*first));
  }
  const engine::EngineInfo& info = engines[0]->info();
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

  // The direction file: the one given, or ours written next to the surface.
  std::string dir_file = run_spec.directions.kind == core::DirectionKind::kFile ? run_spec.directions.file : "";
  if (dir_file.empty()) {
    dir_file = opts.dir_out.empty() ? SiblingPath(opts.out, ".dirs.h5") : opts.dir_out;
    core::Status s = io::WriteDirectionFile(dir_file, engines[0]->directions());
    if (!s.ok()) return Report(s);
  }

  if (const io::Projection* proj = engines[0]->trajectory()) {
    const std::string proj_file = SiblingPath(opts.out, ".proj.h5");
    core::Status ps = io::WriteProjectionFile(proj_file, *proj);
    if (!ps.ok()) return Report(ps);
    PrintTrajectory(engines[0]->directions(), *proj);
    std::fprintf(stderr, "landscape: wrote the projection %s\n", proj_file.c_str());
  }

  if (devices.size() > 1) {
    core::Status made = CreateMoreEngines(core::WithDirectionFile(run_spec, dir_file), eopts, devices, &engines);
    if (!made.ok()) return Report(made);
  }

  if (!resumed) surface = io::NewSurface(spec.grid, spec.MetricNames(), dir_file);
  for (const auto& [k, v] : info.notes) surface.attributes[k] = v;
  surface.dir_file = dir_file;
  surface.attributes["spec"] = core::SpecToJson(spec);
  surface.attributes["computation_key"] = key;
  surface.attributes["inputs_sha256"] = inputs;
  for (const auto& [k, v] : engine::EngineVersions()) surface.attributes["version_" + k] = v;
  for (const auto& [k, v] : spec.labels) surface.attributes["label_" + k] = v;

  const int64_t total = static_cast<int64_t>(surface.PointCount());
  const int64_t already = static_cast<int64_t>(surface.DoneCount());
  if (resumed) {
    std::fprintf(stderr, "landscape: resuming %s: %lld of %lld points already computed\n", opts.out.c_str(),
                 static_cast<long long>(already), static_cast<long long>(total));
  }
  core::ProgressOptions popts;
  popts.label = "landscape";
  if (opts.progress == "bar") popts.style = core::ProgressOptions::Style::kBar;
  if (opts.progress == "lines") popts.style = core::ProgressOptions::Style::kLines;
  if (opts.progress == "quiet") popts.style = core::ProgressOptions::Style::kQuiet;
  core::ProgressReporter progress(total, already, stderr, popts);

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  const std::vector<double> xs = surface.x;
  const std::vector<double> ys = surface.y;
  // Shared by the engines' threads, guarded by mu: the surface, the counts, the cursor, the first error.
  std::mutex mu;
  int64_t done = already;
  int64_t cursor = 0;  // every point before it is done or being evaluated
  std::vector<int64_t> per_device(engines.size(), 0);
  auto last_save = std::chrono::steady_clock::now();
  core::Status failure, save_failure;
  const auto t_eval = std::chrono::steady_clock::now();
  auto evaluate_points = [&](size_t e) {
    while (true) {
      int64_t k;
      {
        std::lock_guard<std::mutex> lock(mu);
        while (cursor < total && surface.done[static_cast<size_t>(cursor)]) ++cursor;
        if (cursor >= total || g_stop.load() || !failure.ok() || !save_failure.ok()) return;
        k = cursor++;
      }
      const auto p = spec.grid.PointAt(k, xs, ys);
      auto v = engines[e]->Evaluate(p.alpha, p.beta);
      std::lock_guard<std::mutex> lock(mu);
      if (!v.ok()) {
        if (failure.ok()) failure = engines.size() > 1 ? v.status().WithContext(devices[e]) : v.status();
        return;
      }
      engine::StorePoint(*v, k, &surface);
      ++done;
      ++per_device[e];
      char detail[96];
      const std::string m0 = surface.metric_names.empty() ? "" : surface.metric_names[0];
      std::snprintf(detail, sizeof detail, "%s=%.4g", m0.c_str(), v->Get(m0));
      progress.Update(done, detail);
      if (std::chrono::duration<double>(std::chrono::steady_clock::now() - last_save).count() > opts.save_interval_s) {
        save_failure = io::WriteSurfaceFile(opts.out, surface);
        last_save = std::chrono::steady_clock::now();
      }
    }
  };
  if (engines.size() == 1) {
    evaluate_points(0);
  } else {
    std::vector<std::thread> threads;
    for (size_t e = 0; e < engines.size(); ++e) threads.emplace_back(evaluate_points, e);
    for (auto& t : threads) t.join();
  }
  if (!save_failure.ok()) return Report(save_failure);
  const double eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_eval).count();
  progress.Finish();
  core::Status s = io::WriteSurfaceFile(opts.out, surface);
  if (!s.ok()) return Report(s);
  if (!failure.ok()) {
    std::fprintf(stderr, "landscape: %lld of %lld points saved to %s\n", static_cast<long long>(done),
                 static_cast<long long>(total), opts.out.c_str());
    return Report(failure);
  }
  if (g_stop.load()) {
    std::fprintf(stderr, "landscape: interrupted; %lld of %lld points saved to %s; run the same command to resume\n",
                 static_cast<long long>(done), static_cast<long long>(total), opts.out.c_str());
    return kExitInterrupted;
  }

  std::fprintf(stderr, "landscape: wrote %s (%zu x %zu) and directions %s\n", opts.out.c_str(), surface.nx(),
               surface.ny(), dir_file.c_str());
  std::string points_per_device;
  for (size_t e = 0; e < engines.size() && engines.size() > 1 && done > already; ++e) {
    points_per_device += (e ? ", " : "") + devices[e] + " " + std::to_string(per_device[e]);
  }
  if (!points_per_device.empty()) std::fprintf(stderr, "landscape: points per device: %s\n", points_per_device.c_str());
  PrintMetricSummary(surface);

  if (!opts.csv.empty()) {
    core::Status c = io::WriteSurfaceCsv(opts.csv, surface);
    if (!c.ok()) return Report(c);
    std::fprintf(stderr, "landscape: wrote %s\n", opts.csv.c_str());
  }
  if (!opts.json.empty()) {
    io::SummaryContext ctx;
    ctx.spec_json = surface.attributes["spec"];
    ctx.labels = spec.labels;
    ctx.versions = engine::EngineVersions();
    ctx.timings["load"] = info.load_seconds;
    ctx.timings["directions"] = info.directions_seconds;
    ctx.timings["setup"] = info.setup_seconds;
    ctx.timings["evaluate"] = eval_seconds;
    ctx.timings["total"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    const int64_t computed = done - already;
    if (computed > 0) ctx.timings["per_point"] = eval_seconds / static_cast<double>(computed);
    std::string device_list;
    for (const auto& en : engines) device_list += (device_list.empty() ? "" : ",") + en->info().device;
    ctx.extra["device"] = device_list;
    if (!points_per_device.empty()) ctx.extra["points_per_device"] = points_per_device;
    ctx.extra["threads"] = std::to_string(info.threads);
    ctx.extra["surface_file"] = opts.out;
    core::Status j = io::WriteTextFile(opts.json, io::SurfaceSummaryJson(surface, ctx));
    if (!j.ok()) return Report(j);
    std::fprintf(stderr, "landscape: wrote %s\n", opts.json.c_str());
  }
  if (!opts.plots.empty()) {
    core::Status ps = DrawDefaultPlots(opts.out, surface, opts.plots);
    if (!ps.ok()) return Report(ps);
  }
  return kExitOk;
}

}  // namespace landscape::client
