// The service behind the gRPC handlers, in core types: validation of specs
// and references, tenant checks, and the Redis stores. Stateless: every
// server process against the same Redis serves the same jobs. Calls block on
// Redis; the gRPC layer runs them on its executor.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "landscape/core/job.h"
#include "landscape/core/spec.h"
#include "landscape/redis/artifact_store.h"
#include "landscape/redis/job_store.h"

namespace landscape::server {

struct ServiceOptions {
  core::SpecLimits limits;                 // grid points, tile and batch sizes
  int64_t max_tiles = 100'000;             // tiles per job (each is a queue entry)
  std::chrono::seconds retention{7 * 24 * 3600};  // job keys live this long after the job ends
  redis::ArtifactOptions artifacts;        // upload size limit and time to live
  size_t surface_chunk_bytes = 1 << 20;    // target size of one GetSurface message
};

/// One message's worth of finished tiles.
struct TileValues {
  int64_t tile = 0, begin = 0, end = 0;
  std::vector<double> values;  // metric-major
};

class JobService {
 public:
  JobService(std::shared_ptr<redis::ConnectionPool> pool, const redis::Schema& schema, ServiceOptions opts);

  /// Everything that can be checked before a worker sees the job: core
  /// validation with the configured limits, the tile count, and that every
  /// file reference is an artifact that exists or an absolute file:// path.
  core::Status Validate(const core::JobSpec& spec);
  core::Result<redis::SubmitOutcome> Submit(const std::string& tenant, const std::string& request_id,
                                            const core::JobSpec& spec);
  /// NotFound for unknown jobs and for other tenants' jobs alike.
  core::Result<core::JobRecord> Get(const std::string& tenant, const std::string& id);
  core::Result<redis::ListPage> List(const std::string& tenant, const redis::ListQuery& query);
  core::Result<core::JobRecord> Cancel(const std::string& tenant, const std::string& id);
  core::Result<std::string> LastEventId(const std::string& id);

  /// Finished tiles from tile `*next` on, about surface_chunk_bytes of
  /// values, advancing `*next` past what was read (to job.tiles_total at the end).
  core::Result<std::vector<TileValues>> ReadSurfaceTiles(const core::JobRecord& job, int64_t* next);

  std::unique_ptr<redis::ArtifactUpload> BeginUpload() { return artifacts_.BeginUpload(); }
  /// The artifact's size and chunks; a download is a use, so its life is extended to the artifact TTL.
  core::Result<redis::ArtifactInfo> StatArtifact(const std::string& sha256) {
    auto info = artifacts_.Stat(sha256);
    if (info.ok()) (void)artifacts_.Touch(sha256);
    return info;
  }
  core::Result<std::string> ReadArtifactChunk(const std::string& sha256, int64_t i) {
    return artifacts_.ReadChunk(sha256, i);
  }

  redis::JobStore& store() { return store_; }
  const ServiceOptions& options() const { return opts_; }

 private:
  core::Status CheckRef(const std::string& ref, const std::string& field);

  ServiceOptions opts_;
  redis::JobStore store_;
  redis::RedisArtifactStore artifacts_;
};

}  // namespace landscape::server
