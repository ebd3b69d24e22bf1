// The Redis schema: every key landscape uses, under one configurable prefix.
//
//   {p}job:{id}             HASH   the job: spec (JSON), state, progress, times, error, dir_artifact, ...,
//                                  attr:{name} (what the surface file says of the computation)
//   {p}job:{id}:events      STREAM its events (WatchJob cursors are entry ids); capped
//   {p}job:{id}:results     HASH   tile index -> the tile's values (little-endian doubles, metric-major)
//   {p}req:{tenant}:{rid}   STRING job id for a client request_id (idempotent submit)
//   {p}tenant:{tenant}:jobs ZSET   job ids by creation time (ms); expired members are pruned when listed
//   {p}queue                STREAM the work: one token per task (a job's preparation, each of its tiles),
//                                  consumer group "workers"; a token is bound to a task by the fair
//                                  scheduler when a worker takes it (see docs/service.md, Scheduling);
//                                  entries are deleted once acknowledged, so its length is the backlog
//   {p}queue:tasks          HASH   entry id -> the task it is bound to (JSON array of fields); while pending
//   {p}sched                ZSET   tenants with ready jobs, by virtual time (+1/weight per task served)
//   {p}vtime                HASH   tenant -> its virtual time when it last went idle
//   {p}vclock               STRING the virtual time of the last task served
//   {p}weights              HASH   tenant -> weight (default 1), set at submit from the tokens file
//   {p}tenant:{tenant}:ready ZSET  the tenant's jobs with a task to hand out, by sched_score
//                                  (-priority * 1e13 + sched_seq: higher priority, then older, first)
//   {p}sched_seq            STRING submits so far (the age order of jobs)
//   {p}held                 ZSET   tenants held at their tiles-in-flight quota, by virtual time
//   {p}inflight             HASH   tenant -> tiles handed out and not yet acknowledged
//   {p}quota:inflight       HASH   tenant -> max tiles in flight (absent: none), set at submit
//   {p}owed                 STRING tokens dropped while a tenant was held, put back as slots free
//   {p}usage                HASH   {tenant}:jobs (active jobs), {tenant}:points (their points not yet done)
//   {p}deadletter           STREAM poison tasks (crashed too often) and tasks delivered too often, with the
//                                  reason (capped)
//   {p}artifact:{sha256}    HASH   size, chunks, c:0 .. c:{chunks-1}: a content-addressed blob;
//                                  t:{tenant} = 1 for each tenant that may see it (uploaded it, or a
//                                  job of the tenant made it): the grants expire with the blob
//   {p}upload:{uuid}        HASH   an upload in progress (expires after an hour if abandoned)
//   {p}stats                HASH   counters for metrics: jobs:{STATE}, tiles_done, tile latency buckets, ...,
//                                  tenant:{t}:tiles:{device}, tenant:{t}:compute_ms:{device},
//                                  tenant:{t}:wait_bucket:{i}, tenant:{t}:wait_ms_sum, tenant:{t}:dead_letters
//
// The four job keys and the request key expire `retention` after the job
// reaches a final state; artifacts expire `artifact_ttl` after their last use.
#pragma once

#include <string>

namespace landscape::redis {

class Schema {
 public:
  explicit Schema(std::string prefix = "lls:") : p_(std::move(prefix)) {}
  const std::string& prefix() const { return p_; }

  std::string Job(const std::string& id) const { return p_ + "job:" + id; }
  std::string Events(const std::string& id) const { return p_ + "job:" + id + ":events"; }
  std::string Results(const std::string& id) const { return p_ + "job:" + id + ":results"; }
  std::string Request(const std::string& tenant, const std::string& request_id) const {
    return p_ + "req:" + tenant + ":" + request_id;
  }
  std::string TenantJobs(const std::string& tenant) const { return p_ + "tenant:" + tenant + ":jobs"; }
  std::string Queue() const { return p_ + "queue"; }
  std::string QueueTasks() const { return p_ + "queue:tasks"; }
  std::string Sched() const { return p_ + "sched"; }
  std::string TenantReady(const std::string& tenant) const { return p_ + "tenant:" + tenant + ":ready"; }
  std::string Weights() const { return p_ + "weights"; }
  std::string Held() const { return p_ + "held"; }
  std::string Inflight() const { return p_ + "inflight"; }
  std::string Usage() const { return p_ + "usage"; }
  std::string DeadLetter() const { return p_ + "deadletter"; }
  std::string Artifact(const std::string& sha256) const { return p_ + "artifact:" + sha256; }
  std::string Upload(const std::string& id) const { return p_ + "upload:" + id; }
  std::string Stats() const { return p_ + "stats"; }

  /// The consumer group of the workers on Queue().
  static constexpr const char* kGroup = "workers";

 private:
  std::string p_;
};

/// Upper bounds (seconds) of the tile latency histogram kept in Stats():
/// field "tile_bucket:{i}" counts tiles with latency <= kTileLatencyBuckets[i]
/// (and above the bound before); "tile_bucket:inf" the rest.
inline constexpr double kTileLatencyBuckets[] = {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300};

/// Upper bounds (seconds) of the per-tenant queue-wait histogram (a job's
/// submit to its first task taken): "tenant:{t}:wait_bucket:{i}" in Stats().
inline constexpr double kQueueWaitBuckets[] = {0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600};

}  // namespace landscape::redis
