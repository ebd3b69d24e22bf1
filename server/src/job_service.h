// The service behind the gRPC handlers, in core types: validation of specs
// and references, tenant checks, and the Redis stores. Stateless: every
// server process against the same Redis serves the same jobs. Calls block on
// Redis; the gRPC layer runs them on its executor.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "landscape/core/job.h"
#include "landscape/core/path_policy.h"
#include "landscape/core/spec.h"
#include "landscape/redis/artifact_store.h"
#include "landscape/redis/job_store.h"

namespace landscape::server {

/// How much work one job may ask for, checked at submit (server flags of the same names).
/// A refusal is kInvalidArgument naming the spec field and the flag.
struct JobLimits {
  /// Samples a job evaluates per split (data.max_samples, or the data set's size when that
  /// is known at submit: the built-in sets and synthetic data; a tensor file's or a data
  /// directory's count is bounded by its size: --max-artifact-bytes, the operator's roots).
  int64_t max_samples = 1'000'000;                      // --max-samples
  int64_t max_checkpoints = 1'000;                      // --max-checkpoints: model.checkpoints entries
  int64_t max_checkpoint_bytes = int64_t{4} << 30;      // --max-checkpoint-bytes: their total size
  int64_t max_hessian_iterations = 1'000;               // --max-hessian-iterations
  int64_t max_hessian_samples = 100'000;                // --max-hessian-samples
};

struct ServiceOptions {
  core::SpecLimits limits;                 // grid points, tile and batch sizes
  JobLimits job_limits;                    // samples, checkpoints, Hessian work
  core::PathPolicy paths;                  // --allow-path-root: none = no local path in a spec
  int64_t max_tiles = 100'000;             // tiles per job (each is a queue entry)
  std::chrono::seconds retention{7 * 24 * 3600};  // job keys live this long after the job ends
  redis::ArtifactOptions artifacts;        // upload size limit and time to live
  size_t surface_chunk_bytes = 1 << 20;    // target size of one GetSurface message
  /// Each tenant's weight and quotas (docs/service.md, Quotas): `tenants` where the tokens file names the
  /// tenant (merged over the defaults at start), `tenant_defaults` (the --tenant-* flags) for the others.
  /// The priority fields are unused here: a job's priority comes with its submit.
  redis::SubmitSchedule tenant_defaults;
  std::map<std::string, redis::SubmitSchedule> tenants;
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
  /// validation with the configured limits, the tile count, the job limits,
  /// that every artifact reference exists and is visible to `tenant` (another
  /// tenant's is NotFound, as a missing one), and that every local path is
  /// allowed by the path policy.
  core::Status Validate(const std::string& tenant, const core::JobSpec& spec);
  /// Validates and queues the job; `priority` orders the tenant's own jobs (higher first, [-100, 100]). Over
  /// one of the tenant's quotas: kResourceExhausted naming it.
  core::Result<redis::SubmitOutcome> Submit(const std::string& tenant, const std::string& request_id,
                                            const core::JobSpec& spec, int priority = 0);
  /// NotFound for unknown jobs and for other tenants' jobs alike.
  core::Result<core::JobRecord> Get(const std::string& tenant, const std::string& id);
  core::Result<redis::ListPage> List(const std::string& tenant, const redis::ListQuery& query);
  core::Result<core::JobRecord> Cancel(const std::string& tenant, const std::string& id);
  core::Result<std::string> LastEventId(const std::string& id);

  /// Finished tiles from tile `*next` on, about surface_chunk_bytes of
  /// values, advancing `*next` past what was read (to job.tiles_total at the end).
  core::Result<std::vector<TileValues>> ReadSurfaceTiles(const core::JobRecord& job, int64_t* next);

  /// An upload that, committed, the tenant may see.
  std::unique_ptr<redis::ArtifactUpload> BeginUpload(const std::string& tenant) {
    return artifacts_.BeginUpload(tenant);
  }
  /// The artifact's size and chunks if `tenant` may see it (NotFound otherwise, as for a missing
  /// one); a download is a use, so its life is extended to the artifact TTL.
  core::Result<redis::ArtifactInfo> StatArtifact(const std::string& tenant, const std::string& sha256) {
    auto info = artifacts_.StatFor(tenant, sha256);
    if (info.ok()) (void)artifacts_.Touch(sha256);
    return info;
  }
  core::Result<std::string> ReadArtifactChunk(const std::string& tenant, const std::string& sha256, int64_t i) {
    return artifacts_.ReadChunkFor(tenant, sha256, i);
  }

  redis::JobStore& store() { return store_; }
  const ServiceOptions& options() const { return opts_; }

 private:
  /// Checks one file reference; adds an artifact's size to *bytes.
  core::Status CheckRef(const std::string& tenant, const std::string& ref, const std::string& field,
                        int64_t* bytes = nullptr);
  core::Status CheckLimits(const core::JobSpec& spec);

  ServiceOptions opts_;
  redis::JobStore store_;
  redis::RedisArtifactStore artifacts_;
};

}  // namespace landscape::server
