#include "job_service.h"

#include "landscape/core/architectures.h"
#include "landscape/core/artifacts.h"
#include "landscape/core/sha256.h"

#include <filesystem>
#include <system_error>

namespace landscape::server {

using core::Result;
using core::Status;
using core::StatusCode;

JobService::JobService(std::shared_ptr<redis::ConnectionPool> pool, const redis::Schema& schema, ServiceOptions opts)
    : opts_(opts),
      store_(pool, schema, redis::JobStoreOptions{opts.retention}),
      artifacts_(pool, schema, opts.artifacts) {}

namespace {

// kResourceExhausted naming the field, the value and the flag that sets the limit.
Status OverLimit(const std::string& field, int64_t value, const char* what, int64_t limit, const char* flag) {
  return Status(StatusCode::kResourceExhausted,
                std::to_string(value) + " " + what + " is over the limit of " + std::to_string(limit) + " set by " + flag,
                field);
}

// Samples per split the job evaluates when known at submit, else 0 (a tensor file or a data
// directory with data.max_samples 0: as many as the file holds).
int64_t KnownSamples(const core::JobSpec& spec, const core::DataSource& src) {
  if (spec.data.max_samples > 0) return spec.data.max_samples;
  switch (src.kind) {
    case core::DataSource::Kind::kFashionMnist:
    case core::DataSource::Kind::kMnist: return spec.evaluates_train() ? 60'000 : 10'000;
    case core::DataSource::Kind::kSynthetic: return src.synthetic_n;
    default: return 0;
  }
}

}  // namespace

Status JobService::CheckRef(const std::string& tenant, const std::string& ref, const std::string& field,
                            int64_t* bytes) {
  const core::FileRef r = core::ParseFileRef(ref);
  if (r.kind == core::FileRef::Kind::kArtifact) {
    if (!core::IsSha256Hex(r.value)) {
      return core::InvalidArgument(field, "'" + ref + "' is not artifact:<sha256> (64 lower-case hex characters)");
    }
    // Another tenant's artifact answers exactly as one that does not exist.
    auto info = artifacts_.StatFor(tenant, r.value);
    if (!info.ok()) {
      if (info.status().code() == StatusCode::kNotFound) {
        return Status(StatusCode::kNotFound, "unknown artifact " + r.value + " (upload it first, e.g. with landscape submit)",
                      field);
      }
      return info.status();
    }
    if (bytes != nullptr) *bytes += info->size;
    return artifacts_.Touch(r.value);  // keep it while the job may need it
  }
  if (r.kind == core::FileRef::Kind::kPath && (r.value.empty() || r.value[0] != '/')) {
    return core::InvalidArgument(field, "'" + ref + "' is a local path the workers cannot read: upload the file "
                                        "(landscape submit does) and use artifact:<sha256>");
  }
  // file:///PATH or /PATH: only inside the operator's --allow-path-root directories.
  LS_ASSIGN_OR_RETURN(std::string path, core::ResolveAllowedPath(opts_.paths, field, r.value, false));
  std::error_code ec;
  if (bytes != nullptr) {
    const auto size = std::filesystem::file_size(path, ec);
    if (!ec) *bytes += static_cast<int64_t>(size);
  }
  return Status::Ok();
}

Status JobService::CheckLimits(const core::JobSpec& spec) {
  const JobLimits& l = opts_.job_limits;
  LS_ASSIGN_OR_RETURN(core::DataSource src, core::ParseDataSource(spec.data.source, "data.source"));
  const int64_t samples = KnownSamples(spec, src);
  if (samples > l.max_samples) {
    return OverLimit(spec.data.max_samples > 0 ? "data.max_samples" : "data.source", samples, "samples per split",
                     l.max_samples, "--max-samples");
  }
  const int64_t checkpoints = static_cast<int64_t>(spec.model.checkpoints.size());
  if (checkpoints > l.max_checkpoints) {
    return OverLimit("model.checkpoints", checkpoints, "checkpoints", l.max_checkpoints, "--max-checkpoints");
  }
  // The Hessian fields matter only when it is computed (their defaults stay valid under any limit).
  if (spec.hessian.enabled && spec.hessian.max_iterations > l.max_hessian_iterations) {
    return OverLimit("hessian.max_iterations", spec.hessian.max_iterations, "iterations", l.max_hessian_iterations,
                     "--max-hessian-iterations");
  }
  // hessian.max_samples 0: the evaluation set.
  const int64_t hessian_samples = spec.hessian.max_samples > 0 ? spec.hessian.max_samples : samples;
  if (spec.hessian.enabled && hessian_samples > l.max_hessian_samples) {
    return OverLimit("hessian.max_samples", hessian_samples, "samples", l.max_hessian_samples,
                     "--max-hessian-samples");
  }
  return Status::Ok();
}

Status JobService::Validate(const std::string& tenant, const core::JobSpec& spec) {
  LS_RETURN_IF_ERROR(core::ValidateSpec(spec, opts_.limits));
  const int64_t tiles = (spec.grid.PointCount() + spec.EffectiveTileSize() - 1) / spec.EffectiveTileSize();
  if (tiles > opts_.max_tiles) {
    return core::InvalidArgument("tile_size", "the grid would make " + std::to_string(tiles) +
                                                  " tiles, over the limit of " + std::to_string(opts_.max_tiles) +
                                                  ": use larger tiles");
  }
  LS_RETURN_IF_ERROR(CheckLimits(spec));
  const core::ModelSpec& m = spec.model;
  LS_RETURN_IF_ERROR(CheckRef(tenant, m.model, "model.model"));
  if (!m.arch.empty() && !core::IsArchitectureName(m.arch)) {  // a built-in name is built by the workers
    LS_RETURN_IF_ERROR(CheckRef(tenant, m.arch, "model.arch"));
  }
  if (!m.model2.empty()) LS_RETURN_IF_ERROR(CheckRef(tenant, m.model2, "model.model2"));
  if (!m.model3.empty()) LS_RETURN_IF_ERROR(CheckRef(tenant, m.model3, "model.model3"));
  int64_t checkpoint_bytes = 0;
  for (size_t i = 0; i < m.checkpoints.size(); ++i) {
    LS_RETURN_IF_ERROR(CheckRef(tenant, m.checkpoints[i], "model.checkpoints[" + std::to_string(i) + "]",
                                &checkpoint_bytes));
  }
  if (checkpoint_bytes > opts_.job_limits.max_checkpoint_bytes) {
    return OverLimit("model.checkpoints", checkpoint_bytes, "bytes of checkpoints",
                     opts_.job_limits.max_checkpoint_bytes, "--max-checkpoint-bytes");
  }
  // Checked whatever the direction kind: a path is never accepted unchecked.
  if (!spec.directions.file.empty()) LS_RETURN_IF_ERROR(CheckRef(tenant, spec.directions.file, "directions.file"));
  LS_ASSIGN_OR_RETURN(core::DataSource src, core::ParseDataSource(spec.data.source, "data.source"));
  switch (src.kind) {
    case core::DataSource::Kind::kFashionMnist:
    case core::DataSource::Kind::kMnist: break;
    case core::DataSource::Kind::kIdx:
    case core::DataSource::Kind::kCifar10:
      LS_RETURN_IF_ERROR(core::ResolveAllowedPath(opts_.paths, "data.source", src.location, false).status());
      break;
    case core::DataSource::Kind::kTensor: LS_RETURN_IF_ERROR(CheckRef(tenant, src.location, "data.source")); break;
    case core::DataSource::Kind::kSynthetic: break;  // generated by the workers: nothing to reach
  }
  return Status::Ok();
}

Result<redis::SubmitOutcome> JobService::Submit(const std::string& tenant, const std::string& request_id,
                                                const core::JobSpec& spec, int priority) {
  if (priority < -100 || priority > 100) return core::InvalidArgument("priority", "must be in [-100, 100]");
  if (request_id.size() > 128) return core::InvalidArgument("request_id", "at most 128 characters");
  for (char c : request_id) {
    if (c <= ' ' || c > '~') return core::InvalidArgument("request_id", "printable ASCII without spaces only");
  }
  LS_RETURN_IF_ERROR(Validate(tenant, spec));
  const auto it = opts_.tenants.find(tenant);
  redis::SubmitSchedule schedule = it != opts_.tenants.end() ? it->second : opts_.tenant_defaults;
  schedule.priority = priority;
  return store_.Submit(tenant, request_id, spec, schedule);
}

Result<core::JobRecord> JobService::Get(const std::string& tenant, const std::string& id) {
  auto job = store_.Get(id);
  if (job.ok() && job->tenant != tenant) return core::NotFound("job " + core::JobName(id) + " not found");
  return job;
}

Result<redis::ListPage> JobService::List(const std::string& tenant, const redis::ListQuery& query) {
  redis::ListQuery q = query;
  if (q.page_size < 0) return core::InvalidArgument("page_size", "must not be negative");
  if (q.page_size == 0) q.page_size = 50;
  q.page_size = std::min(q.page_size, 1000);
  return store_.List(tenant, q);
}

Result<core::JobRecord> JobService::Cancel(const std::string& tenant, const std::string& id) {
  LS_RETURN_IF_ERROR(Get(tenant, id).status());
  return store_.Cancel(id);
}

Result<std::string> JobService::LastEventId(const std::string& id) { return store_.LastEventId(id); }

Result<std::vector<TileValues>> JobService::ReadSurfaceTiles(const core::JobRecord& job, int64_t* next) {
  std::vector<TileValues> out;
  const int64_t metrics = static_cast<int64_t>(job.spec.MetricNames().size());
  if (job.tiles_total == 0 || job.tile_size <= 0 || *next >= job.tiles_total) {
    *next = job.tiles_total;
    return out;
  }
  const int64_t tile_bytes = std::max<int64_t>(1, job.tile_size * metrics * 8);
  const int64_t count =
      std::min(job.tiles_total - *next, std::max<int64_t>(1, static_cast<int64_t>(opts_.surface_chunk_bytes) / tile_bytes));
  LS_ASSIGN_OR_RETURN(auto blobs, store_.ReadTiles(job.id, *next, count));
  for (int64_t i = 0; i < static_cast<int64_t>(blobs.size()); ++i) {
    if (!blobs[static_cast<size_t>(i)]) continue;
    TileValues t;
    t.tile = *next + i;
    t.begin = t.tile * job.tile_size;
    t.end = std::min(job.points_total, t.begin + job.tile_size);
    LS_ASSIGN_OR_RETURN(t.values, core::DecodeValues(*blobs[static_cast<size_t>(i)],
                                                     static_cast<size_t>((t.end - t.begin) * metrics)));
    out.push_back(std::move(t));
  }
  *next += count;
  return out;
}

}  // namespace landscape::server
