// The Redis schema against a real redis-server: the job state machine, the
// tile queue (idempotent completion, reclaim, dead-letter, heartbeat), the
// event stream, retention and artifacts. Uses $LANDSCAPE_TEST_REDIS when set
// (each test under its own key prefix), else a redis-server of its own.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "landscape/core/artifacts.h"
#include "landscape/core/sha256.h"
#include "landscape/redis/artifact_store.h"
#include "landscape/redis/job_store.h"
#include "landscape/redis/reply.h"
#include "landscape/redis/tile_queue.h"
#include "process.h"
#include "scripts.h"  // white-box: the reclaim race below runs the resolve step by itself

namespace landscape {
namespace {

using std::chrono::milliseconds;

class RedisStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string url = testing::TestRedisUrl(&own_);
    ASSERT_FALSE(url.empty());
    auto opts = redis::ParseRedisUrl(url);
    ASSERT_TRUE(opts.ok()) << opts.status();
    pool_ = redis::ConnectionPool::Create(*opts, 4);
    schema_ = redis::Schema("test:" + core::RandomId(8) + ":");
    store_ = std::make_unique<redis::JobStore>(pool_, schema_, redis::JobStoreOptions{std::chrono::seconds(3)});
  }

  void TearDown() override {
    if (!pool_) return;
    auto c = pool_->Acquire();
    if (!c.ok()) return;
    auto keys = (*c)->Command({"KEYS", schema_.prefix() + "*"});
    if (keys.ok() && keys->size() > 0) {
      std::vector<std::string> del{"DEL"};
      for (size_t i = 0; i < keys->size(); ++i) del.emplace_back((*keys)[i].str());
      (void)(*c)->Command(del);
    }
  }

  std::unique_ptr<redis::RedisTileQueue> Queue(const std::string& consumer, milliseconds claim_idle = milliseconds(30000),
                                               int max_deliveries = 3) {
    redis::QueueOptions q;
    q.claim_idle = claim_idle;
    q.claim_interval = milliseconds(1);
    q.max_deliveries = max_deliveries;
    auto queue = std::make_unique<redis::RedisTileQueue>(pool_, schema_, q, consumer);
    EXPECT_TRUE(queue->EnsureGroup().ok());
    return queue;
  }

  static core::JobSpec Spec(int64_t nx, int64_t ny, int64_t tile_size) {
    core::JobSpec s;
    s.model.model = "artifact:" + std::string(64, 'a');
    s.grid.x = core::AxisSpec{-1, 1, nx};
    if (ny > 0) s.grid.y = core::AxisSpec{-1, 1, ny};
    s.tile_size = tile_size;
    return s;
  }

  std::string Cmd(const std::vector<std::string>& args) {
    auto c = pool_->Acquire();
    EXPECT_TRUE(c.ok());
    auto r = (*c)->Command(args);
    EXPECT_TRUE(r.ok()) << r.status();
    if (r->view().is_integer()) return std::to_string(r->view().integer());
    return std::string(r->str());
  }

  // Takes the prepare task of `id` and runs it to RUNNING.
  void Prepare(redis::RedisTileQueue& q, const std::string& id, int64_t tile_size) {
    auto t = q.Next(milliseconds(1000));
    ASSERT_TRUE(t.ok()) << t.status();
    ASSERT_TRUE(t->has_value());
    ASSERT_EQ((*t)->kind, core::Task::Kind::kPrepare);
    ASSERT_EQ((*t)->job_id, id);
    auto go = q.BeginPrepare(**t);
    ASSERT_TRUE(go.ok() && *go);
    ASSERT_TRUE(q.FinishPrepare(**t, "artifact:" + std::string(64, 'b'), "", tile_size,
                                {{"hessian_definition", "per-sample mean"}, {"version_x", "1 2"}})
                    .ok());
  }

  std::unique_ptr<testing::RedisServer> own_;
  std::shared_ptr<redis::ConnectionPool> pool_;
  redis::Schema schema_;
  std::unique_ptr<redis::JobStore> store_;
};

TEST_F(RedisStoreTest, JobRunsThroughTheQueueAndCompletionIsIdempotent) {
  auto sub = store_->Submit("t1", "req-1", Spec(5, 2, 3));  // 10 points, tiles of 3: 4 tiles
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE(sub->created);
  const std::string id = sub->job.id;
  EXPECT_EQ(sub->job.state, core::JobState::kQueued);
  EXPECT_EQ(sub->job.points_total, 10);

  // The same request id gives the same job; with another spec it is refused.
  auto again = store_->Submit("t1", "req-1", Spec(5, 2, 3));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->job.id, id);
  auto clash = store_->Submit("t1", "req-1", Spec(6, 2, 3));
  EXPECT_EQ(clash.status().code(), core::StatusCode::kAlreadyExists);

  auto q = Queue("w1");
  Prepare(*q, id, 3);
  auto job = store_->Get(id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state, core::JobState::kRunning);
  EXPECT_EQ(job->tiles_total, 4);
  EXPECT_EQ(job->attributes,
            (std::map<std::string, std::string>{{"hessian_definition", "per-sample mean"}, {"version_x", "1 2"}}));

  std::vector<core::Task> tiles;
  for (int i = 0; i < 4; ++i) {
    auto t = q->Next(milliseconds(1000));
    ASSERT_TRUE(t.ok() && t->has_value());
    ASSERT_EQ((*t)->kind, core::Task::Kind::kTile);
    tiles.push_back(**t);
  }
  EXPECT_EQ(tiles[0].job_state, core::JobState::kRunning);  // read with the task, in the same round trip
  EXPECT_EQ(tiles[3].tile.begin, 9);
  EXPECT_EQ(tiles[3].tile.end, 10);
  auto none = q->Next(milliseconds(50));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  // One metric (train_loss, train_acc by default: two), values = flat index.
  auto values = [](const core::Task& t, double offset) {
    std::vector<double> v;
    for (int m = 0; m < 2; ++m)
      for (int64_t k = t.tile.begin; k < t.tile.end; ++k) v.push_back(static_cast<double>(k) + offset + m * 100);
    return v;
  };
  ASSERT_TRUE(q->Complete(tiles[0], values(tiles[0], 0), 0.5).ok());
  // A second completion of the same tile (a slow worker presumed dead) changes nothing.
  ASSERT_TRUE(q->Complete(tiles[0], values(tiles[0], 1000), 0.5).ok());
  job = store_->Get(id);
  EXPECT_EQ(job->points_done, 3);
  EXPECT_EQ(job->tiles_done, 1);
  auto blobs = store_->ReadTiles(id, 0, 4);
  ASSERT_TRUE(blobs.ok());
  ASSERT_TRUE((*blobs)[0].has_value());
  EXPECT_EQ(*core::DecodeValues(*(*blobs)[0], 6), values(tiles[0], 0));
  EXPECT_FALSE((*blobs)[1].has_value());

  for (int i = 1; i < 4; ++i) ASSERT_TRUE(q->Complete(tiles[i], values(tiles[i], 0), 0.1).ok());
  job = store_->Get(id);
  EXPECT_EQ(job->state, core::JobState::kSucceeded);
  EXPECT_EQ(job->points_done, 10);
  EXPECT_EQ(Cmd({"XLEN", schema_.Queue()}), "0");  // acknowledged entries are deleted

  // Events: QUEUED, PREPARING, RUNNING, 4 tiles, SUCCEEDED; cursors resume exactly.
  auto events = store_->ReadEvents(id, "", 100, 2);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 8u);
  EXPECT_EQ((*events)[0].state, core::JobState::kQueued);
  EXPECT_EQ((*events)[3].type, core::JobEvent::Type::kTile);
  EXPECT_EQ((*events)[3].values, values(tiles[0], 0));
  EXPECT_EQ((*events)[7].state, core::JobState::kSucceeded);
  EXPECT_EQ((*events)[7].points_done, 10);
  auto rest = store_->ReadEvents(id, (*events)[4].cursor, 100, 2);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 3u);
  EXPECT_EQ((*rest)[0].cursor, (*events)[5].cursor);

  // Retention: every job key expires once the job ends.
  for (const auto& key : {schema_.Job(id), schema_.Events(id), schema_.Results(id), schema_.Request("t1", "req-1")}) {
    const int ttl = std::stoi(Cmd({"TTL", key}));
    EXPECT_GT(ttl, 0) << key;
    EXPECT_LE(ttl, 3) << key;
  }
  EXPECT_TRUE(testing::WaitFor([&] { return Cmd({"EXISTS", schema_.Job(id)}) == "0"; }, std::chrono::seconds(6)));
  EXPECT_EQ(store_->Get(id).status().code(), core::StatusCode::kNotFound);
}

TEST_F(RedisStoreTest, AbandonedTasksAreReclaimedThenDeadLettered) {
  auto sub = store_->Submit("t", "", Spec(2, 0, 2));  // one tile
  ASSERT_TRUE(sub.ok());
  const std::string id = sub->job.id;
  auto a = Queue("dead-worker", milliseconds(200), 2);
  auto b = Queue("live-worker", milliseconds(200), 2);
  Prepare(*a, id, 2);
  auto t = a->Next(milliseconds(500));  // a takes the tile, then "dies"
  ASSERT_TRUE(t.ok() && t->has_value());
  auto none = b->Next(milliseconds(50));  // not idle long enough yet
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  std::this_thread::sleep_for(milliseconds(300));
  auto reclaimed = b->Next(milliseconds(50));
  ASSERT_TRUE(reclaimed.ok() && reclaimed->has_value()) << reclaimed.status();
  EXPECT_EQ((*reclaimed)->id, (*t)->id);
  EXPECT_EQ((*reclaimed)->deliveries, 2);
  // The heartbeat tells a that the task is no longer its own.
  auto lease_a = a->Heartbeat(**t);
  ASSERT_TRUE(lease_a.ok());
  EXPECT_FALSE(lease_a->owned);
  auto lease_b = b->Heartbeat(**reclaimed);
  ASSERT_TRUE(lease_b.ok());
  EXPECT_TRUE(lease_b->owned);
  EXPECT_EQ(lease_b->state, core::JobState::kRunning);

  // b dies too: the third delivery would exceed max_deliveries = 2.
  std::this_thread::sleep_for(milliseconds(300));
  auto dead = a->Next(milliseconds(50));
  ASSERT_TRUE(dead.ok());
  EXPECT_FALSE(dead->has_value());
  auto job = store_->Get(id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state, core::JobState::kFailed);
  EXPECT_NE(job->error.find("dead-letter"), std::string::npos) << job->error;
  EXPECT_EQ(Cmd({"XLEN", schema_.DeadLetter()}), "1");
  EXPECT_EQ(Cmd({"XLEN", schema_.Queue()}), "0");
}

// The race a Redis restart exposed (both workers' leases looked idle at once): worker b reclaims a's entry
// with XAUTOCLAIM, a (slow, not dead) finishes its tile and acknowledges the entry, then b resolves the
// entry. b must get nothing; binding the job's next tile to that acknowledged entry lost the tile for good
// (nobody held the entry, the job's cursor had moved past the tile, the job never finished).
TEST_F(RedisStoreTest, AnEntryAcknowledgedBetweenReclaimAndResolveGetsNoNewTask) {
  auto sub = store_->Submit("t", "", Spec(4, 0, 2));  // two tiles
  ASSERT_TRUE(sub.ok());
  const std::string id = sub->job.id;
  auto a = Queue("slow-worker", milliseconds(200));
  auto b = Queue("other-worker", milliseconds(200));
  Prepare(*a, id, 2);
  auto t = a->Next(milliseconds(500));
  ASSERT_TRUE(t.ok() && t->has_value());
  std::this_thread::sleep_for(milliseconds(300));  // a's lease looks abandoned

  // b's reclaim, step one: XAUTOCLAIM moves a's entry to b.
  {
    auto c = pool_->Acquire();
    ASSERT_TRUE(c.ok());
    auto claimed = (*c)->Command({"XCLAIM", schema_.Queue(), redis::Schema::kGroup, "other-worker", "200", (*t)->id,
                                  "JUSTID"});
    ASSERT_TRUE(claimed.ok()) << claimed.status();
    ASSERT_EQ(claimed->size(), 1u);
  }
  // a finishes meanwhile: stored and acknowledged.
  ASSERT_TRUE(a->Complete(**t, {1.0, 2.0, 3.0, 4.0}, 0.1).ok());
  // b's reclaim, step two: the entry is no longer pending, so it carries no task.
  {
    auto c = pool_->Acquire();
    ASSERT_TRUE(c.ok());
    auto r = redis::scripts::ResolveTask().Run(**c, {schema_.Queue()},
                                               {redis::Schema::kGroup, "other-worker", schema_.prefix(), (*t)->id});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->view().is_nil()) << r->view().Describe();
  }

  // The job's other tile is still there for whoever asks next, and the job completes.
  auto next = b->Next(milliseconds(500));
  ASSERT_TRUE(next.ok() && next->has_value()) << next.status();
  EXPECT_EQ((*next)->kind, core::Task::Kind::kTile);
  EXPECT_NE((*next)->tile.index, (*t)->tile.index);
  EXPECT_EQ((*next)->deliveries, 1);
  auto done = b->Complete(**next, {5.0, 6.0, 7.0, 8.0}, 0.1);
  ASSERT_TRUE(done.ok()) << done;
  auto job = store_->Get(id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state, core::JobState::kSucceeded);
  EXPECT_EQ(job->tiles_done, 2);
}

// The poison rule at the queue: a tile whose evaluation process died is released for another try (at once:
// the next reclaim takes it), and at the crash limit dead-lettered with the reason, failing its job; a worker
// that no longer holds the task records nothing.
TEST_F(RedisStoreTest, ACrashedTaskIsReleasedThenDeadLetteredAtTheCrashLimit) {
  auto sub = store_->Submit("t", "", Spec(2, 0, 2));  // one tile
  ASSERT_TRUE(sub.ok());
  const std::string id = sub->job.id;
  auto a = Queue("worker-a", milliseconds(5000));
  auto b = Queue("worker-b", milliseconds(5000));
  Prepare(*a, id, 2);
  auto t = a->Next(milliseconds(500));
  ASSERT_TRUE(t.ok() && t->has_value());
  EXPECT_EQ(Cmd({"HGET", schema_.Inflight(), "t"}), "1");
  EXPECT_EQ(b->Crashed(**t, core::Internal("boom")).value(), core::CrashOutcome::kNotOwned);  // not b's
  auto first = a->Crashed(**t, core::Internal("signal 11"));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, core::CrashOutcome::kReleased);
  EXPECT_EQ(store_->Get(id)->state, core::JobState::kRunning);
  // Released as if abandoned: b reclaims it now, though claim_idle is 5 s.
  auto again = b->Next(milliseconds(50));
  ASSERT_TRUE(again.ok() && again->has_value()) << again.status();
  EXPECT_EQ((*again)->id, (*t)->id);
  EXPECT_EQ((*again)->tile.index, (*t)->tile.index);
  EXPECT_EQ((*again)->deliveries, 2);
  auto second = b->Crashed(**again, core::Internal("signal 11 again"));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, core::CrashOutcome::kDeadLettered);
  auto job = store_->Get(id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state, core::JobState::kFailed);
  EXPECT_NE(job->error.find("tile 0 crashed the evaluation process 2 times (last: signal 11 again)"),
            std::string::npos)
      << job->error;
  EXPECT_EQ(Cmd({"XLEN", schema_.DeadLetter()}), "1");
  EXPECT_EQ(Cmd({"XLEN", schema_.Queue()}), "0");
  EXPECT_EQ(Cmd({"HGET", schema_.Inflight(), "t"}), "0");  // the slot came back with the acknowledgement
  EXPECT_EQ(Cmd({"HGET", schema_.Stats(), "tenant:t:dead_letters"}), "1");
}

TEST_F(RedisStoreTest, CancelledJobsStoreNothingMore) {
  auto sub = store_->Submit("t", "", Spec(4, 0, 1));
  ASSERT_TRUE(sub.ok());
  const std::string id = sub->job.id;
  auto q = Queue("w");
  Prepare(*q, id, 1);
  auto t = q->Next(milliseconds(500));
  ASSERT_TRUE(t.ok() && t->has_value());
  auto cancelled = store_->Cancel(id);
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->state, core::JobState::kCancelled);
  auto lease = q->Heartbeat(**t);
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ(lease->state, core::JobState::kCancelled);
  ASSERT_TRUE(q->Complete(**t, {1, 2}, 0.1).ok());  // acknowledged, not stored
  auto job = store_->Get(id);
  EXPECT_EQ(job->tiles_done, 0);
  EXPECT_EQ(Cmd({"HLEN", schema_.Results(id)}), "0");
  // Cancelling again changes nothing; an ended job is never revived.
  EXPECT_EQ(store_->Cancel(id)->state, core::JobState::kCancelled);
  EXPECT_GT(std::stoi(Cmd({"TTL", schema_.Job(id)})), 0);
}

TEST_F(RedisStoreTest, ListsOnlyTheTenantsJobsNewestFirstWithPages) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    core::JobSpec s = Spec(3, 0, 0);
    s.labels["run"] = std::to_string(i % 2);
    auto sub = store_->Submit("alice", "", s);
    ASSERT_TRUE(sub.ok());
    ids.push_back(sub->job.id);
  }
  ASSERT_TRUE(store_->Submit("bob", "", Spec(3, 0, 0)).ok());
  redis::ListQuery q;
  q.page_size = 2;
  std::vector<std::string> seen;
  for (int page = 0; page < 5; ++page) {
    auto p = store_->List("alice", q);
    ASSERT_TRUE(p.ok()) << p.status();
    for (const auto& j : p->jobs) seen.push_back(j.id);
    if (p->next_page_token.empty()) break;
    q.page_token = p->next_page_token;
  }
  ASSERT_EQ(seen.size(), 5u);
  std::sort(seen.begin(), seen.end());
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(seen, ids);
  redis::ListQuery by_label;
  by_label.labels["run"] = "1";
  auto labelled = store_->List("alice", by_label);
  ASSERT_TRUE(labelled.ok());
  EXPECT_EQ(labelled->jobs.size(), 2u);
  redis::ListQuery running;
  running.state = core::JobState::kRunning;
  EXPECT_TRUE(store_->List("alice", running)->jobs.empty());
}

// A job's direction file must outlive the job's keys (or `get` would find the values without it):
// the end of a job lengthens the life of the artifacts it made to the job's retention, and never
// shortens a longer one.
TEST_F(RedisStoreTest, TheFilesAJobMadeLiveAtLeastAsLongAsTheJob) {
  redis::ArtifactOptions aopts;
  aopts.ttl = std::chrono::seconds(100);
  redis::RedisArtifactStore artifacts(pool_, schema_, aopts);
  const testing::ScopedTempDir tmp("landscape-artifacts");
  auto put = [&](const std::string& bytes) {
    std::ofstream(tmp.path() + "/f", std::ios::binary | std::ios::trunc) << bytes;
    auto sha = artifacts.PutFile(tmp.path() + "/f");
    EXPECT_TRUE(sha.ok()) << sha.status();
    return sha.ok() ? *sha : std::string();
  };
  auto ttl = [&](const std::string& sha) { return std::stoll(Cmd({"TTL", schema_.Artifact(sha)})); };
  // Runs a job of `store` whose prepared files are `dir` and `proj`, and cancels it.
  auto run_and_end = [&](redis::JobStore& store, const std::string& dir, const std::string& proj) {
    auto sub = store.Submit("t", "", Spec(2, 0, 1));
    ASSERT_TRUE(sub.ok());
    auto q = Queue("w");
    auto t = q->Next(milliseconds(1000));
    // Drop the tiles an earlier job left queued.
    while (t.ok() && t->has_value() && (*t)->kind != core::Task::Kind::kPrepare) {
      ASSERT_TRUE(q->Skip(**t).ok());
      t = q->Next(milliseconds(1000));
    }
    ASSERT_TRUE(t.ok() && t->has_value());
    ASSERT_EQ((*t)->job_id, sub->job.id);
    ASSERT_TRUE(q->BeginPrepare(**t).ok());
    ASSERT_TRUE(q->FinishPrepare(**t, core::ArtifactRef(dir), proj.empty() ? "" : core::ArtifactRef(proj), 1, {}).ok());
    ASSERT_TRUE(store.Cancel(sub->job.id).ok());
    EXPECT_GT(std::stoll(Cmd({"TTL", schema_.Job(sub->job.id)})), 0);
  };

  const std::string dir = put("directions"), proj = put("projection");
  ASSERT_LE(ttl(dir), 100);
  // A worker's file belongs to nobody until the job's preparation finishes; then to the job's tenant.
  EXPECT_EQ(artifacts.StatFor("t", dir).status().code(), core::StatusCode::kNotFound);
  redis::JobStore long_kept(pool_, schema_, redis::JobStoreOptions{std::chrono::seconds(5000)});
  run_and_end(long_kept, dir, proj);
  EXPECT_TRUE(artifacts.StatFor("t", dir).ok());
  EXPECT_TRUE(artifacts.StatFor("t", proj).ok());
  EXPECT_EQ(artifacts.StatFor("u", dir).status().code(), core::StatusCode::kNotFound);
  EXPECT_GT(ttl(dir), 4000);
  EXPECT_LE(ttl(dir), 5000);
  EXPECT_GT(ttl(proj), 4000);

  const std::string other = put("other directions");
  run_and_end(*store_, other, "");  // retention 3 s: the artifact keeps its 100 s
  EXPECT_GT(ttl(other), 50);
}

// An artifact is visible to the tenants that uploaded it; to others exactly as a missing one.
TEST_F(RedisStoreTest, TenantsSeeOnlyTheArtifactsGrantedToThem) {
  redis::RedisArtifactStore store(pool_, schema_);
  auto upload = [&](const std::string& tenant, const std::string& bytes) {
    auto u = store.BeginUpload(tenant);
    EXPECT_TRUE(u->Append(bytes).ok());
    auto info = u->Commit();
    EXPECT_TRUE(info.ok()) << info.status();
    return info.ok() ? info->sha256 : std::string();
  };
  const std::string sha = upload("alice", "alice's model");
  ASSERT_TRUE(store.StatFor("alice", sha).ok());
  EXPECT_EQ(*store.ReadChunkFor("alice", sha, 0), "alice's model");
  const std::string missing = core::Sha256Hex("nobody's bytes");
  auto theirs = store.StatFor("bob", sha);
  auto none = store.StatFor("bob", missing);
  EXPECT_EQ(theirs.status().code(), core::StatusCode::kNotFound);
  EXPECT_EQ(theirs.status().code(), none.status().code());
  std::string msg = theirs.status().message();
  msg.replace(msg.find(sha), sha.size(), missing);
  EXPECT_EQ(msg, none.status().message());
  EXPECT_EQ(store.ReadChunkFor("bob", sha, 0).status().code(), core::StatusCode::kNotFound);
  EXPECT_TRUE(store.Stat(sha).ok());  // workers: unscoped
  // bob uploads the same bytes: stored once, granted to both.
  EXPECT_EQ(upload("bob", "alice's model"), sha);
  EXPECT_EQ(*store.ReadChunkFor("bob", sha, 0), "alice's model");
  EXPECT_TRUE(store.StatFor("alice", sha).ok());
  EXPECT_EQ(Cmd({"HGET", schema_.Artifact(sha), "t:bob"}), "1");
  EXPECT_EQ(store.StatFor("carol", sha).status().code(), core::StatusCode::kNotFound);
}

TEST_F(RedisStoreTest, ArtifactsAreContentAddressedAndVerified) {
  redis::ArtifactOptions opts;
  opts.chunk_bytes = 1000;  // several chunks
  opts.max_bytes = 100000;
  redis::RedisArtifactStore store(pool_, schema_, opts);
  const std::string dir = testing::MakeTempDir("landscape-artifacts");
  const std::string path = dir + "/blob.bin";
  std::string bytes;
  for (int i = 0; i < 4321; ++i) bytes.push_back(static_cast<char>((i * 7919) & 0xff));
  std::ofstream(path, std::ios::binary) << bytes;

  auto sha = store.PutFile(path);
  ASSERT_TRUE(sha.ok()) << sha.status();
  EXPECT_EQ(*sha, core::Sha256Hex(bytes));
  auto again = store.PutFile(path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *sha);
  auto info = store.Stat(*sha);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, 4321);
  EXPECT_EQ(info->chunks, 5);
  EXPECT_EQ(Cmd({"KEYS", schema_.prefix() + "upload:*"}), "");  // nothing staged is left behind

  ASSERT_TRUE(store.FetchToFile(*sha, dir + "/copy.bin").ok());
  EXPECT_EQ(testing::ReadFile(dir + "/copy.bin"), bytes);
  EXPECT_EQ(store.Stat(std::string(64, '0')).status().code(), core::StatusCode::kNotFound);

  // A corrupted chunk is detected, and nothing is written.
  Cmd({"HSET", schema_.Artifact(*sha), "c:2", "garbage"});
  auto bad = store.FetchToFile(*sha, dir + "/bad.bin");
  EXPECT_EQ(bad.code(), core::StatusCode::kDataLoss);
  EXPECT_FALSE(std::filesystem::exists(dir + "/bad.bin"));

  // The size limit.
  auto upload = store.BeginUpload();
  EXPECT_EQ(upload->Append(std::string(100001, 'x')).code(), core::StatusCode::kResourceExhausted);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace landscape
