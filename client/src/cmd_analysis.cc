// `landscape trajectory` and `landscape hessian`: the paper's analyses beside the surfaces.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "exit_codes.h"
#include "landscape/engine/engine.h"
#include "landscape/io/summary.h"

namespace landscape::client {

int RunTrajectory(const LocalOptions& opts) {
  core::JobSpec spec = opts.spec;
  const bool onto_file = spec.directions.kind == core::DirectionKind::kFile;
  if (spec.model.checkpoints.empty() || (spec.directions.kind != core::DirectionKind::kPca && !onto_file)) {
    return Report(core::InvalidArgument("--checkpoints", "give the training checkpoints (or --checkpoint-dir)"));
  }
  // No surface: a one-point plane is enough to build the directions and projections.
  spec.grid.x = {0, 0, 1};
  spec.grid.y = core::AxisSpec{0, 0, 1};
  const engine::EngineOptions& eopts = opts.engine;
  if (onto_file) {
    std::fprintf(stderr, "landscape: %zu checkpoints projected onto %s...\n", spec.model.checkpoints.size(),
                 spec.directions.file.c_str());
  } else {
    std::fprintf(stderr, "landscape: PCA of %zu checkpoints...\n", spec.model.checkpoints.size());
  }
  auto engine = engine::Engine::Create(spec, eopts);
  if (!engine.ok()) return Report(engine.status());
  const io::Projection* proj = (*engine)->trajectory();
  if (!proj) return Report(core::Internal("no trajectory was computed"));
  std::filesystem::path base(opts.out);
  if (base.extension() == ".h5") base.replace_extension("");
  // With --dir-file the directions are the user's file: only the projection is written.
  const std::string dirs_file = onto_file ? spec.directions.file : base.string() + ".dirs.h5";
  const std::string proj_file = base.string() + ".proj.h5";
  core::Status s = onto_file ? core::Status::Ok() : io::WriteDirectionFile(dirs_file, (*engine)->directions());
  if (!s.ok()) return Report(s);
  s = io::WriteProjectionFile(proj_file, *proj);
  if (!s.ok()) return Report(s);
  PrintTrajectory((*engine)->directions(), *proj);
  if (onto_file) {
    std::fprintf(stderr, "landscape: wrote %s; draw it over a surface of these directions: landscape plot SURFACE.h5 "
                 "--kind trajectory --proj-file %s\n", proj_file.c_str(), proj_file.c_str());
  } else {
    std::fprintf(stderr, "landscape: wrote %s and %s; next: landscape local --model %s --dir-file %s --x .. --y ..\n",
                 dirs_file.c_str(), proj_file.c_str(), spec.model.model.c_str(), dirs_file.c_str());
  }
  return kExitOk;
}

int RunHessian(const HessianCmdOptions& opts) {
  core::JobSpec spec = opts.spec;
  spec.grid.x = {0, 0, 1};
  spec.grid.y.reset();
  spec.hessian.enabled = false;  // the analysis builds its own operator
  const engine::EngineOptions& eopts = opts.engine;
  auto engine = engine::Engine::Create(spec, eopts);
  if (!engine.ok()) return Report(engine.status());
  auto a = (*engine)->AnalyzeHessian(opts.top_k, opts.trace_samples, opts.seed, !opts.dir_out.empty());
  if (!a.ok()) return Report(a.status());
  if (a->directions) {
    core::Status w = io::WriteDirectionFile(opts.dir_out, *a->directions);
    if (!w.ok()) return Report(w);
    std::fprintf(stderr, "landscape: wrote %s (x, y: the eigenvectors of the two largest eigenvalues, unit norm); "
                 "next: landscape local --model %s --dir-file %s --x -0.1:0.1:21 --y -0.1:0.1:21\n",
                 opts.dir_out.c_str(), spec.model.model.c_str(), opts.dir_out.c_str());
  }
  std::fprintf(stderr, "landscape: Hessian at the centre (%lld parameters with dim > 1, %lld products, %.1f s)\n",
               static_cast<long long>(a->parameters), static_cast<long long>(a->products), a->seconds);
  for (size_t i = 0; i < a->top_eigenvalues.size(); ++i) {
    std::printf("lambda_%zu %.8g\n", i + 1, a->top_eigenvalues[i]);
  }
  std::printf("lambda_min %.8g\n", a->min_eig);
  if (a->trace_samples > 0) std::printf("trace %.8g +- %.3g\n", a->trace, a->trace_standard_error);
  if (!a->top_eigenvalues.empty() && a->top_eigenvalues[0] != 0) {
    std::printf("abs_min_over_max %.6g\n", std::fabs(a->min_eig / a->top_eigenvalues[0]));
  }
  if (!opts.json.empty()) {
    nlohmann::json j;
    j["spec"] = nlohmann::json::parse(core::SpecToJson(spec));
    j["top_eigenvalues"] = a->top_eigenvalues;
    j["lambda_max"] = a->top_eigenvalues.empty() ? NAN : a->top_eigenvalues[0];
    j["lambda_min"] = a->min_eig;
    if (a->trace_samples > 0) {
      j["trace"] = a->trace;
      j["trace_standard_error"] = a->trace_standard_error;
      j["trace_samples"] = a->trace_samples;
    }
    j["parameters"] = a->parameters;
    j["hessian_vector_products"] = a->products;
    j["seconds"] = a->seconds;
    j["definition"] = a->definition;
    j["labels"] = spec.labels;
    j["versions"] = engine::EngineVersions();
    core::Status s = io::WriteTextFile(opts.json, j.dump(2));
    if (!s.ok()) return Report(s);
  }
  return kExitOk;
}

}  // namespace landscape::client
