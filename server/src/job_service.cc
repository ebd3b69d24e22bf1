#include "job_service.h"

#include "landscape/core/artifacts.h"
#include "landscape/core/sha256.h"

namespace landscape::server {

using core::Result;
using core::Status;
using core::StatusCode;

JobService::JobService(std::shared_ptr<redis::ConnectionPool> pool, const redis::Schema& schema, ServiceOptions opts)
    : opts_(opts),
      store_(pool, schema, redis::JobStoreOptions{opts.retention}),
      artifacts_(pool, schema, opts.artifacts) {}

Status JobService::CheckRef(const std::string& ref, const std::string& field) {
  const core::FileRef r = core::ParseFileRef(ref);
  switch (r.kind) {
    case core::FileRef::Kind::kArtifact: {
      if (!core::IsSha256Hex(r.value)) {
        return core::InvalidArgument(field, "'" + ref + "' is not artifact:<sha256> (64 lower-case hex characters)");
      }
      auto info = artifacts_.Stat(r.value);
      if (!info.ok()) {
        if (info.status().code() == StatusCode::kNotFound) {
          return Status(StatusCode::kNotFound, "unknown artifact " + r.value + " (upload it first, e.g. with landscape submit)",
                        field);
        }
        return info.status();
      }
      return artifacts_.Touch(r.value);  // keep it while the job may need it
    }
    case core::FileRef::Kind::kFile:
      if (r.value.empty() || r.value[0] != '/') {
        return core::InvalidArgument(field, "'" + ref + "': file:// references need an absolute path (file:///...)");
      }
      return Status::Ok();
    case core::FileRef::Kind::kPath:
      break;
  }
  return core::InvalidArgument(field, "'" + ref + "' is a local path the workers cannot read: upload the file "
                                      "(landscape submit does) and use artifact:<sha256>, or use file:///PATH for "
                                      "a path every worker can read");
}

Status JobService::Validate(const core::JobSpec& spec) {
  LS_RETURN_IF_ERROR(core::ValidateSpec(spec, opts_.limits));
  const int64_t tiles = (spec.grid.PointCount() + spec.EffectiveTileSize() - 1) / spec.EffectiveTileSize();
  if (tiles > opts_.max_tiles) {
    return core::InvalidArgument("tile_size", "the grid would make " + std::to_string(tiles) +
                                                  " tiles, over the limit of " + std::to_string(opts_.max_tiles) +
                                                  ": use larger tiles");
  }
  const core::ModelSpec& m = spec.model;
  LS_RETURN_IF_ERROR(CheckRef(m.model, "model.model"));
  if (!m.arch.empty()) LS_RETURN_IF_ERROR(CheckRef(m.arch, "model.arch"));
  if (!m.model2.empty()) LS_RETURN_IF_ERROR(CheckRef(m.model2, "model.model2"));
  if (!m.model3.empty()) LS_RETURN_IF_ERROR(CheckRef(m.model3, "model.model3"));
  for (size_t i = 0; i < m.checkpoints.size(); ++i) {
    LS_RETURN_IF_ERROR(CheckRef(m.checkpoints[i], "model.checkpoints[" + std::to_string(i) + "]"));
  }
  if (spec.directions.kind == core::DirectionKind::kFile) {
    LS_RETURN_IF_ERROR(CheckRef(spec.directions.file, "directions.file"));
  }
  LS_ASSIGN_OR_RETURN(core::DataSource src, core::ParseDataSource(spec.data.source, "data.source"));
  switch (src.kind) {
    case core::DataSource::Kind::kFashionMnist:
    case core::DataSource::Kind::kMnist: break;
    case core::DataSource::Kind::kIdx:
    case core::DataSource::Kind::kCifar10:
      if (src.location.empty() || src.location[0] != '/') {
        return core::InvalidArgument("data.source", "data directories must be absolute paths every worker can read");
      }
      break;
    case core::DataSource::Kind::kTensor: LS_RETURN_IF_ERROR(CheckRef(src.location, "data.source")); break;
  }
  return Status::Ok();
}

Result<redis::SubmitOutcome> JobService::Submit(const std::string& tenant, const std::string& request_id,
                                                const core::JobSpec& spec) {
  if (request_id.size() > 128) return core::InvalidArgument("request_id", "at most 128 characters");
  for (char c : request_id) {
    if (c <= ' ' || c > '~') return core::InvalidArgument("request_id", "printable ASCII without spaces only");
  }
  LS_RETURN_IF_ERROR(Validate(spec));
  return store_.Submit(tenant, request_id, spec);
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
