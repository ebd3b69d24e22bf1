#include "worker.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

namespace landscape::worker {

using core::JobState;
using core::Result;
using core::Status;
using core::StatusCode;
using core::Task;

namespace {

std::shared_ptr<spdlog::logger> Log() {
  static std::shared_ptr<spdlog::logger> log = [] {
    auto l = spdlog::get("worker");
    return l ? l : spdlog::stdout_logger_mt("worker");
  }();
  return log;
}

bool Transient(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded;
}

std::string Describe(const Task& t) {
  if (t.kind == Task::Kind::kPrepare) return "job_id=" + t.job_id + " task=prepare";
  return "job_id=" + t.job_id + " tile=" + std::to_string(t.tile.index) + " points=" +
         std::to_string(t.tile.begin) + ".." + std::to_string(t.tile.end);
}

}  // namespace

Worker::Worker(WorkerOptions opts, core::TileQueue& queue, core::TileQueue& control, core::ArtifactStore& artifacts,
               core::EvaluatorFactory& evaluators)
    : opts_(std::move(opts)),
      queue_(queue),
      control_(control),
      artifacts_(artifacts),
      evaluators_(evaluators),
      heartbeat_([this] { HeartbeatLoop(); }) {}

Worker::~Worker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutting_down_ = true;
  }
  cv_.notify_all();
  heartbeat_.join();
}

WorkerStats Worker::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

template <typename Op>
auto Worker::Retry(const char* what, const std::atomic<int>& stop, Op op) -> decltype(op()) {
  auto backoff = std::chrono::milliseconds(100);
  for (;;) {
    auto r = op();
    const Status& s = [&]() -> const Status& {
      if constexpr (std::is_same_v<decltype(r), Status>) {
        return r;
      } else {
        return r.status();
      }
    }();
    if (s.ok() || !Transient(s) || stop.load() >= kAbandon) return r;
    Log()->warn("redis unavailable, retrying doing={} in_ms={} error=\"{}\"", what, backoff.count(), s.ToString());
    std::this_thread::sleep_for(backoff);
    backoff = std::min(opts_.max_backoff, backoff * 2);
  }
}

void Worker::Run(const std::atomic<int>& stop) {
  Log()->info("worker started");
  auto backoff = std::chrono::milliseconds(100);
  while (stop.load() == kKeepRunning) {
    auto next = queue_.Next(opts_.poll);
    if (!next.ok()) {
      Log()->warn("cannot take a task error=\"{}\" retry_in_ms={}", next.status().ToString(), backoff.count());
      std::this_thread::sleep_for(backoff);
      backoff = std::min(opts_.max_backoff, backoff * 2);
      continue;
    }
    backoff = std::chrono::milliseconds(100);
    if (!*next) continue;
    RunTask(**next, stop);
  }
  Log()->info("worker stopped prepared={} tiles_done={} tiles_skipped={} abandoned={}", stats().prepared,
              stats().tiles_done, stats().tiles_skipped, stats().tasks_abandoned);
}

void Worker::RunTask(const Task& task, const std::atomic<int>& stop) {
  if (task.deliveries > 1) Log()->info("reclaimed task {} deliveries={}", Describe(task), task.deliveries);
  if (task.kind == Task::Kind::kPrepare) {
    Prepare(task, stop);
  } else {
    ComputeTile(task, stop);
  }
}

void Worker::Prepare(const Task& task, const std::atomic<int>& stop) {
  auto go = Retry("begin prepare", stop, [&] { return queue_.BeginPrepare(task); });
  if (!go.ok()) {
    Log()->error("cannot start preparing {} error=\"{}\"", Describe(task), go.status().ToString());
    return;  // not acknowledged: reclaimed later
  }
  if (!*go) {
    Log()->info("job already prepared or ended, dropped {}", Describe(task));
    return;
  }
  auto job = Retry("load job", stop, [&] { return queue_.LoadJob(task.job_id); });
  if (!job.ok()) {
    if (job.status().code() == StatusCode::kNotFound) (void)queue_.Skip(task);
    Log()->error("cannot load {} error=\"{}\"", Describe(task), job.status().ToString());
    return;
  }
  Log()->info("preparing job_id={} points={}", task.job_id, job->points_total);
  const auto t0 = std::chrono::steady_clock::now();
  StartLease(task);
  auto files = evaluators_.Prepare(job->spec, opts_.scratch_dir, [&] { return KeepGoing(stop); });
  EndLease();
  if (!files.ok() && files.status().code() == StatusCode::kCancelled) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.tasks_abandoned;
    }
    if (job_ended_.load()) {
      (void)Retry("skip", stop, [&] { return queue_.Skip(task); });
      Log()->info("preparation abandoned, job ended {}", Describe(task));
    } else if (lease_lost_.load()) {
      Log()->warn("preparation abandoned, claimed by another worker {}", Describe(task));
    } else {
      (void)queue_.Release(task);
      Log()->info("preparation released unfinished (stopping) {}", Describe(task));
    }
    return;
  }
  if (!files.ok()) {
    if (CountedCrash(task, files.status(), stop)) return;
    if (Transient(files.status())) {  // e.g. an artifact could not be fetched: let it be retried
      Log()->warn("cannot prepare now, released {} error=\"{}\"", Describe(task), files.status().ToString());
      (void)queue_.Release(task);
      return;
    }
    Log()->error("job failed in preparation job_id={} error=\"{}\"", task.job_id, files.status().ToString());
    Status s = Retry("fail job", stop, [&] { return queue_.Fail(task, files.status()); });
    if (!s.ok()) Log()->error("cannot record the failure of job_id={} error=\"{}\"", task.job_id, s.ToString());
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.jobs_failed;
    return;
  }
  // Publishes a prepared file as an artifact; "" when there is none.
  auto publish = [&](const std::string& path, const char* what) -> core::Result<std::string> {
    if (path.empty()) return std::string();
    auto sha = Retry(what, stop, [&] { return artifacts_.PutFile(path); });
    std::error_code ec;
    std::filesystem::remove(path, ec);
    if (!sha.ok()) return sha.status();
    return core::ArtifactRef(*sha);
  };
  auto dir_stored = publish(files->directions, "store directions");
  auto proj_stored = publish(files->projection, "store projection");
  for (const auto* stored : {&dir_stored, &proj_stored}) {
    if (stored->ok()) continue;
    if (Transient(stored->status())) {  // Redis away: another delivery may succeed
      Log()->error("cannot store the prepared files of job_id={} error=\"{}\"", task.job_id,
                   stored->status().ToString());
      (void)queue_.Release(task);
      return;
    }
    // e.g. a direction file over the artifact size limit: no delivery would do better.
    const Status why = stored->status().WithContext("storing the prepared files");
    Log()->error("job failed in preparation job_id={} error=\"{}\"", task.job_id, why.ToString());
    Status s = Retry("fail job", stop, [&] { return queue_.Fail(task, why); });
    if (!s.ok()) Log()->error("cannot record the failure of job_id={} error=\"{}\"", task.job_id, s.ToString());
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.jobs_failed;
    return;
  }
  const std::string dir_ref = dir_stored->empty() ? job->spec.directions.file : *dir_stored;
  const std::string proj_ref = *proj_stored;
  const int64_t tile_size = job->spec.EffectiveTileSize();
  Status s =
      Retry("finish prepare", stop, [&] { return queue_.FinishPrepare(task, dir_ref, proj_ref, tile_size, files->attributes); });
  if (!s.ok()) {
    Log()->error("cannot queue the tiles of job_id={} error=\"{}\"", task.job_id, s.ToString());
    return;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Log()->info("prepared job_id={} directions={} tile_size={} seconds={:.3f}", task.job_id, dir_ref, tile_size, secs);
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.prepared;
}

Result<core::TileEvaluator*> Worker::EvaluatorFor(const core::JobRecord& job) {
  Log()->info("loading job_id={} directions={}", job.id, job.dir_artifact);
  const auto t0 = std::chrono::steady_clock::now();
  LS_ASSIGN_OR_RETURN(auto evaluator, evaluators_.Open(core::WithDirectionFile(job.spec, job.dir_artifact)));
  Log()->info("loaded job_id={} seconds={:.3f} {}", job.id,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), evaluator->Description());
  if (cache_.size() >= std::max<size_t>(1, opts_.cached_jobs)) {
    auto lru = std::min_element(cache_.begin(), cache_.end(),
                                [](const CachedJob& a, const CachedJob& b) { return a.last_use < b.last_use; });
    cache_.erase(lru);
  }
  cache_.push_back(CachedJob{job.id, std::move(evaluator), job.spec.MetricNames(), ++use_counter_});
  return cache_.back().evaluator.get();
}

void Worker::Forget(const std::string& job_id) {
  cache_.erase(std::remove_if(cache_.begin(), cache_.end(), [&](const CachedJob& c) { return c.job_id == job_id; }),
               cache_.end());
}

bool Worker::CountedCrash(const Task& task, const Status& s, const std::atomic<int>& stop) {
  if (s.code() != StatusCode::kAborted) return false;
  Forget(task.job_id);  // its evaluation process is gone
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.tasks_crashed;
  }
  auto outcome = Retry("record crash", stop, [&] { return queue_.Crashed(task, s); });
  if (!outcome.ok()) {
    Log()->error("cannot record the crash of {} error=\"{}\"", Describe(task), outcome.status().ToString());
  } else if (*outcome == core::CrashOutcome::kReleased) {
    Log()->warn("evaluation process died, released for another try {} error=\"{}\"", Describe(task), s.ToString());
  } else if (*outcome == core::CrashOutcome::kDeadLettered) {
    Log()->error("evaluation process died, dead-lettered (poison) {} error=\"{}\"", Describe(task), s.ToString());
  } else {
    Log()->warn("evaluation process died on a task no longer ours {}", Describe(task));
  }
  return true;
}

void Worker::ComputeTile(const Task& task, const std::atomic<int>& stop) {
  // The job's state came with the task when the queue could read it in the same step; a job whose
  // evaluator is loaded needs nothing else. Otherwise: read the job.
  CachedJob* cached = nullptr;
  for (auto& c : cache_)
    if (c.job_id == task.job_id) cached = &c;
  std::optional<JobState> state = task.job_state;
  std::optional<core::JobRecord> job;
  if (!state || cached == nullptr) {
    auto loaded = Retry("load job", stop, [&] { return queue_.LoadJob(task.job_id); });
    if (!loaded.ok() && loaded.status().code() != StatusCode::kNotFound) {
      Log()->error("cannot load {} error=\"{}\"", Describe(task), loaded.status().ToString());
      return;  // not acknowledged: reclaimed later
    }
    if (loaded.ok()) {
      state = loaded->state;
      job = std::move(*loaded);
    } else {
      state.reset();  // expired
    }
  }
  if (state != JobState::kRunning) {
    Forget(task.job_id);
    (void)Retry("skip", stop, [&] { return queue_.Skip(task); });
    Log()->info("skipped {} job_state={}", Describe(task), state ? core::Name(*state) : "EXPIRED");
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.tiles_skipped;
    return;
  }
  StartLease(task);  // loading the evaluator may take a while too
  auto evaluator = cached != nullptr ? Result<core::TileEvaluator*>(cached->evaluator.get()) : EvaluatorFor(*job);
  if (cached != nullptr) cached->last_use = ++use_counter_;
  if (!evaluator.ok()) {
    EndLease();
    if (CountedCrash(task, evaluator.status(), stop)) return;
    if (Transient(evaluator.status())) {
      Log()->warn("cannot load the job now, released {} error=\"{}\"", Describe(task), evaluator.status().ToString());
      (void)queue_.Release(task);
      return;
    }
    Log()->error("job failed loading tiles job_id={} error=\"{}\"", task.job_id, evaluator.status().ToString());
    (void)Retry("fail job", stop, [&] { return queue_.Fail(task, evaluator.status()); });
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.jobs_failed;
    return;
  }
  Log()->info("tile start {}", Describe(task));
  const auto t0 = std::chrono::steady_clock::now();
  auto values = (*evaluator)->Evaluate(task.tile, [&] { return KeepGoing(stop); });
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EndLease();
  if (values.ok()) {
    Status s = Retry("store tile", stop, [&] { return queue_.Complete(task, *values, secs); });
    if (!s.ok()) {
      Log()->error("cannot store {} error=\"{}\"", Describe(task), s.ToString());
      return;  // not acknowledged: computed again elsewhere
    }
    Log()->info("tile done {} seconds={:.3f}", Describe(task), secs);
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.tiles_done;
    return;
  }
  if (values.status().code() == StatusCode::kCancelled) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.tasks_abandoned;
    }
    if (job_ended_.load()) {
      Forget(task.job_id);
      (void)Retry("skip", stop, [&] { return queue_.Skip(task); });
      Log()->info("tile abandoned, job ended {} seconds={:.3f}", Describe(task), secs);
    } else if (lease_lost_.load()) {
      Log()->warn("tile abandoned, claimed by another worker {}", Describe(task));
    } else {
      (void)queue_.Release(task);
      Log()->info("tile released unfinished (stopping) {}", Describe(task));
    }
    return;
  }
  if (CountedCrash(task, values.status(), stop)) return;
  Log()->error("job failed computing {} error=\"{}\"", Describe(task), values.status().ToString());
  (void)Retry("fail job", stop, [&] { return queue_.Fail(task, values.status()); });
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.jobs_failed;
}

// ---- heartbeat ---------------------------------------------------------------

void Worker::StartLease(const Task& task) {
  lease_lost_.store(false);
  job_ended_.store(false);
  {
    std::lock_guard<std::mutex> lock(mu_);
    leased_ = task;
  }
  cv_.notify_all();
}

void Worker::EndLease() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    leased_.reset();
  }
  cv_.notify_all();
}

bool Worker::KeepGoing(const std::atomic<int>& stop) {
  const int level = stop.load();
  if (level >= kAbandon || lease_lost_.load() || job_ended_.load()) return false;
  if (level == kDrain) {
    const auto now = std::chrono::steady_clock::now();
    if (!drain_deadline_) {
      drain_deadline_ = now + opts_.drain_timeout;
      Log()->info("draining: finishing the running task within {} ms", opts_.drain_timeout.count());
    }
    if (now > *drain_deadline_) return false;
  }
  return true;
}

void Worker::HeartbeatLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return shutting_down_ || leased_.has_value(); });
    if (shutting_down_) return;
    const Task task = *leased_;
    // Sleep one interval unless the lease ends or changes first.
    const bool changed = cv_.wait_for(lock, opts_.heartbeat, [&] {
      return shutting_down_ || !leased_.has_value() || leased_->id != task.id;
    });
    if (changed) continue;
    lock.unlock();
    auto lease = control_.Heartbeat(task);
    lock.lock();
    if (!leased_ || leased_->id != task.id) continue;
    if (!lease.ok()) {
      Log()->warn("heartbeat failed {} error=\"{}\"", Describe(task), lease.status().ToString());
      continue;
    }
    if (!lease->owned) lease_lost_.store(true);
    if (core::IsFinal(lease->state)) job_ended_.store(true);
  }
}

}  // namespace landscape::worker
