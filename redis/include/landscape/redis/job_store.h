// The server's side of the schema: submit, read, list and cancel jobs, read
// their events and results, and the counters behind the metrics.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "landscape/core/job.h"
#include "landscape/redis/connection.h"
#include "landscape/redis/schema.h"

namespace landscape::redis {

struct JobStoreOptions {
  /// Every key of a job expires this long after the job ends.
  std::chrono::seconds retention{7 * 24 * 3600};
};

struct SubmitOutcome {
  core::JobRecord job;
  bool created = false;  // false: an earlier submit with the same request id
};

/// How the fair scheduler treats a job (docs/service.md, Scheduling).
struct SubmitSchedule {
  /// Within its tenant, higher first (then older first); clamped to [-100, 100].
  int priority = 0;
  /// The tenant's weight across tenants (tasks served in proportion); <= 0 leaves the stored one (default 1).
  double weight = 0;
  /// The tenant's quotas (docs/service.md, Quotas); 0: none. Active jobs (queued, preparing or running) and
  /// their points not yet done are checked here: a submit over either is refused (kResourceExhausted naming
  /// the quota). Tiles in flight are held instead: the scheduler skips the tenant while it has that many.
  int64_t max_jobs = 0;
  int64_t max_queued_points = 0;
  int64_t max_tiles_in_flight = 0;
};

struct ListQuery {
  std::optional<core::JobState> state;
  std::map<std::string, std::string> labels;  // every one must match
  int page_size = 50;
  std::string page_token;  // from ListPage::next_page_token
};

struct ListPage {
  std::vector<core::JobRecord> jobs;  // newest first
  std::string next_page_token;        // "" on the last page
};

/// Cluster-wide numbers read from Redis (every server reports the same).
struct StoreStats {
  std::map<std::string, int64_t> counters;  // {p}stats: jobs:{STATE}, tiles_done, tile_ms_sum, tile_bucket:*, ...
  int64_t queue_length = 0;     // tasks not yet acknowledged (queued + running)
  int64_t pending = 0;          // delivered to a worker, not yet acknowledged
  int64_t lag = 0;              // never delivered yet (queue_length - pending)
  double oldest_age_s = 0;      // age of the oldest unacknowledged task
  int64_t consumers = 0;        // workers known to the group
  int64_t dead_letters = 0;     // entries in the dead-letter stream
  std::map<std::string, int64_t> inflight;  // tenant -> tiles handed out, not yet acknowledged
};

class JobStore {
 public:
  JobStore(std::shared_ptr<ConnectionPool> pool, Schema schema, JobStoreOptions opts = {});

  /// Stores the job and queues its preparation, atomically. With a
  /// request_id: an earlier job of the same tenant and request id is returned
  /// instead (kAlreadyExists if its spec differs).
  Result<SubmitOutcome> Submit(const std::string& tenant, const std::string& request_id, const core::JobSpec& spec,
                               const SubmitSchedule& schedule = {});
  /// NotFound when unknown or expired.
  Result<core::JobRecord> Get(const std::string& id);
  Result<ListPage> List(const std::string& tenant, const ListQuery& query);
  /// Cancels the job unless it has ended; returns the job after.
  Result<core::JobRecord> Cancel(const std::string& id);
  /// Up to `count` events after `after` ("" or "0-0": from the first).
  Result<std::vector<core::JobEvent>> ReadEvents(const std::string& id, const std::string& after, int64_t count,
                                                 size_t metric_count);
  /// The id of the job's last event ("" when it has none).
  Result<std::string> LastEventId(const std::string& id);
  /// The stored values of tiles [first, first + count): nullopt where not computed.
  Result<std::vector<std::optional<std::string>>> ReadTiles(const std::string& id, int64_t first, int64_t count);
  Result<StoreStats> Stats();

  const Schema& schema() const { return schema_; }

 private:
  std::vector<std::string> JobKeys(const std::string& id) const;

  std::shared_ptr<ConnectionPool> pool_;
  Schema schema_;
  JobStoreOptions opts_;
};

}  // namespace landscape::redis
