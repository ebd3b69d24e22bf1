#include "grpc_service.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>

#include "grpc_status.h"
#include "landscape/proto/convert.h"
#include "landscape/redis/records.h"
#include "landscape/redis/reply.h"

namespace landscape::server {

using core::Result;
using core::Status;

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const grpc::Status kShuttingDown(grpc::StatusCode::UNAVAILABLE, "the server is shutting down; retry");

// Runs `fn(tenant)` on the executor and finishes the unary call with its status.
template <typename Fn>
grpc::ServerUnaryReactor* Unary(const ServiceDeps& deps, const char* method, grpc::CallbackServerContext* ctx,
                                Fn fn) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  auto tenant = deps.auth->Authenticate(ctx->client_metadata());
  if (!tenant.ok()) {
    const grpc::Status s = ToGrpcStatus(tenant.status());
    deps.Count(method, s);
    reactor->Finish(s);
    return reactor;
  }
  const bool posted = deps.executor->Post([&deps, method, ctx, reactor, fn = std::move(fn), t = *tenant]() mutable {
    grpc::Status s;
    if (ctx->IsCancelled()) {
      s = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled, or past its deadline, before it ran");
    } else {
      s = ToGrpcStatus(fn(t));
    }
    deps.Count(method, s);
    reactor->Finish(s);
  });
  if (!posted) reactor->Finish(kShuttingDown);
  return reactor;
}

// A stream that fails before it starts (e.g. a wrong token).
template <typename Msg>
class FailedWriter final : public grpc::ServerWriteReactor<Msg> {
 public:
  explicit FailedWriter(const grpc::Status& s) { this->Finish(s); }
  void OnDone() override { delete this; }
};

class FailedReader final : public grpc::ServerReadReactor<v1::UploadArtifactRequest> {
 public:
  explicit FailedReader(const grpc::Status& s) { Finish(s); }
  void OnDone() override { delete this; }
};

// Shared ownership by gRPC (until OnDone) and by queued executor tasks.
class RefCounted {
 protected:
  virtual ~RefCounted() = default;
  void Ref() { refs_.fetch_add(1); }
  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

 private:
  std::atomic<int> refs_{1};
};

// A server stream whose messages come from `next` (run on the executor, one
// at a time): nullopt ends the stream OK, an error ends it with that status.
template <typename Msg>
class PullWriter final : public grpc::ServerWriteReactor<Msg>, public RefCounted {
 public:
  using Next = std::function<Result<std::optional<Msg>>()>;

  PullWriter(const ServiceDeps& deps, const char* method, Next next)
      : deps_(deps), method_(method), next_(std::move(next)) {
    std::lock_guard<std::mutex> lock(mu_);
    ScheduleLocked();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok || cancelled_) return FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
    ScheduleLocked();
  }
  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    if (!writing_ && !producing_) FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }
  void OnDone() override { Unref(); }

 private:
  void ScheduleLocked() {
    producing_ = true;
    Ref();
    if (!deps_.executor->Post([this] {
          Produce();
          Unref();
        })) {
      producing_ = false;
      Unref();
      FinishLocked(kShuttingDown);
    }
  }

  void Produce() {
    Result<std::optional<Msg>> r = next_();
    std::lock_guard<std::mutex> lock(mu_);
    producing_ = false;
    if (cancelled_) return FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
    if (!r.ok()) return FinishLocked(ToGrpcStatus(r.status()));
    if (!r->has_value()) return FinishLocked(grpc::Status::OK);
    msg_ = std::move(**r);
    writing_ = true;
    this->StartWrite(&msg_);
  }

  void FinishLocked(const grpc::Status& s) {
    if (finished_) return;
    finished_ = true;
    deps_.Count(method_, s);
    this->Finish(s);
  }

  const ServiceDeps& deps_;
  const char* method_;
  Next next_;
  std::mutex mu_;
  Msg msg_;
  bool writing_ = false, producing_ = false, cancelled_ = false, finished_ = false;
};

// WatchJob: events from the hub, converted and written one at a time.
class WatchReactor final : public grpc::ServerWriteReactor<v1::JobEvent>, public RefCounted {
 public:
  WatchReactor(const ServiceDeps& deps, std::string tenant, std::string job_id, std::string cursor)
      : deps_(deps), tenant_(std::move(tenant)), job_id_(std::move(job_id)), cursor_(std::move(cursor)) {
    Ref();
    if (!deps_.executor->Post([this] {
          Start();
          Unref();
        })) {
      Unref();
      std::lock_guard<std::mutex> lock(mu_);
      FinishLocked(kShuttingDown);
    }
  }

  void OnWriteDone(bool ok) override {
    bool arm = false, unsubscribe = false;
    uint64_t sub = 0;
    std::string cursor;
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (!ok) return FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      cursor_ = queue_.front().cursor();
      queue_.pop_front();
      if (pending_finish_) return FinishLocked(*pending_finish_);
      if (!queue_.empty()) {
        writing_ = true;
        StartWrite(&queue_.front());
        return;
      }
      sub = sub_;
      cursor = cursor_;
      if (terminal_) {
        unsubscribe = subscribed_;
        FinishLocked(grpc::Status::OK);  // the job has ended and its last event is written
      } else if (subscribed_) {
        arm = true;
      } else {
        // The first batch came (and was written) before Start() learned its subscription id: Start() arms.
        arm_wanted_ = true;
      }
    }
    if (unsubscribe) deps_.hub->Unsubscribe(sub);
    if (arm) deps_.hub->Arm(sub, cursor);
  }

  void OnCancel() override {
    Unsubscribe();
    std::lock_guard<std::mutex> lock(mu_);
    RequestFinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled, or past its deadline"));
  }

  void OnDone() override {
    Unsubscribe();
    Unref();
  }

 private:
  // On the executor: checks the job, then subscribes.
  void Start() {
    spdlog::debug("watch start job_id={} after={}", job_id_, cursor_);
    auto job = deps_.service->Get(tenant_, job_id_);
    Status failure = job.status();
    bool ended_before_cursor = false;
    if (job.ok() && core::IsFinal(job->state)) {
      auto last = deps_.service->LastEventId(job_id_);
      failure = last.status();
      ended_before_cursor = last.ok() && (last->empty() || !redis::StreamIdLess(cursor_, *last));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!failure.ok()) return RequestFinishLocked(ToGrpcStatus(failure));
      if (ended_before_cursor) return RequestFinishLocked(grpc::Status::OK);  // nothing after the cursor
      if (finished_) return;
      metrics_ = job->spec.MetricNames();
    }
    const uint64_t sub = deps_.hub->Subscribe(
        deps_.schema.Events(job_id_), cursor_, [this](std::vector<redis::StreamEntry> e) { OnEntries(std::move(e)); },
        [this] {
          std::lock_guard<std::mutex> lock(mu_);
          RequestFinishLocked(
              grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down; resume with your last cursor"));
        });
    bool gone, arm;
    std::string cursor;
    {
      std::lock_guard<std::mutex> lock(mu_);
      sub_ = sub;
      subscribed_ = true;
      gone = finished_;
      arm = arm_wanted_;
      arm_wanted_ = false;
      cursor = cursor_;
    }
    if (gone) {
      deps_.hub->Unsubscribe(sub);
    } else if (arm) {
      deps_.hub->Arm(sub, cursor);
    }
  }

  // On the hub thread (hub lock held).
  void OnEntries(std::vector<redis::StreamEntry> entries) {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_ || pending_finish_) return;
    for (const auto& e : entries) {
      auto ev = redis::ParseJobEvent(e, metrics_.size());
      if (!ev.ok()) return RequestFinishLocked(ToGrpcStatus(ev.status()));
      queue_.emplace_back();
      convert::EventToProto(*ev, metrics_, &queue_.back());
      if (ev->type == core::JobEvent::Type::kState && core::IsFinal(ev->state)) {
        terminal_ = true;
        break;  // nothing follows a final state
      }
    }
    if (!writing_ && !queue_.empty()) {
      writing_ = true;
      StartWrite(&queue_.front());
    }
  }

  void Unsubscribe() {
    uint64_t sub;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!subscribed_) return;
      subscribed_ = false;
      sub = sub_;
    }
    deps_.hub->Unsubscribe(sub);
  }

  void RequestFinishLocked(const grpc::Status& s) {
    if (writing_) {
      if (!pending_finish_) pending_finish_ = s;
      return;
    }
    FinishLocked(s);
  }
  void FinishLocked(const grpc::Status& s) {
    if (finished_) return;
    finished_ = true;
    spdlog::debug("watch finished job_id={} cursor={} code={}", job_id_, cursor_, static_cast<int>(s.error_code()));
    deps_.Count("WatchJob", s);
    Finish(s);
  }

  const ServiceDeps& deps_;
  const std::string tenant_, job_id_;
  std::mutex mu_;
  std::string cursor_;  // of the last event written
  std::vector<std::string> metrics_;
  std::deque<v1::JobEvent> queue_;  // front() is being written while writing_
  uint64_t sub_ = 0;
  bool subscribed_ = false, writing_ = false, terminal_ = false, finished_ = false;
  bool arm_wanted_ = false;  // all delivered events were written before sub_ was known
  std::optional<grpc::Status> pending_finish_;
};

// UploadArtifact: each piece is stored on the executor, then the next is read.
class UploadReactor final : public grpc::ServerReadReactor<v1::UploadArtifactRequest>, public RefCounted {
 public:
  UploadReactor(const ServiceDeps& deps, grpc::CallbackServerContext* ctx, v1::Artifact* response,
                const std::string& tenant)
      : deps_(deps), ctx_(ctx), response_(response), upload_(deps.service->BeginUpload(tenant)) {
    StartRead(&req_);
  }

  void OnReadDone(bool ok) override {
    Ref();
    if (!deps_.executor->Post([this, ok] {
          ok ? Append() : Commit();
          Unref();
        })) {
      Unref();
      FinishOnce(kShuttingDown);
    }
  }
  void OnDone() override {
    // Dropping an uncommitted upload deletes its staged chunks in Redis: not on a gRPC thread.
    auto* upload = upload_.release();
    if (!deps_.executor->Post([upload] { delete upload; })) delete upload;
    Unref();
  }

 private:
  void Append() {
    if (first_) {
      first_ = false;
      filename_ = req_.filename();
      expected_ = req_.expected_sha256();
    }
    if (req_.data().size() > deps_.max_upload_message) {
      return FinishOnce(ToGrpcStatus(core::InvalidArgument(
          "data", "pieces are limited to " + std::to_string(deps_.max_upload_message) + " bytes per message")));
    }
    Status s = upload_->Append(req_.data());
    if (!s.ok()) return FinishOnce(ToGrpcStatus(s));
    StartRead(&req_);
  }

  void Commit() {
    if (ctx_->IsCancelled()) return FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "upload cancelled"));
    auto info = upload_->Commit(expected_);
    if (!info.ok()) return FinishOnce(ToGrpcStatus(info.status()));
    response_->set_sha256(info->sha256);
    response_->set_size(info->size);
    response_->set_ref(core::ArtifactRef(info->sha256));
    spdlog::info("artifact stored sha256={} size={} filename=\"{}\"", info->sha256, info->size, filename_);
    FinishOnce(grpc::Status::OK);
  }

  void FinishOnce(const grpc::Status& s) {
    if (finished_.exchange(true)) return;
    deps_.Count("UploadArtifact", s);
    Finish(s);
  }

  const ServiceDeps& deps_;
  grpc::CallbackServerContext* ctx_;
  v1::Artifact* response_;
  std::unique_ptr<redis::ArtifactUpload> upload_;
  v1::UploadArtifactRequest req_;
  bool first_ = true;
  std::string filename_, expected_;
  std::atomic<bool> finished_{false};
};

}  // namespace

void ServiceDeps::Count(const char* method, const grpc::Status& s) const {
  if (metrics != nullptr) metrics->CountRpc(method, std::to_string(static_cast<int>(s.error_code())));
  if (!s.ok() && s.error_code() != grpc::StatusCode::CANCELLED) {
    spdlog::info("rpc method={} code={} message=\"{}\"", method, static_cast<int>(s.error_code()), s.error_message());
  }
}

grpc::ServerReadReactor<v1::UploadArtifactRequest>* LandscapeServiceImpl::UploadArtifact(
    grpc::CallbackServerContext* ctx, v1::Artifact* response) {
  auto tenant = deps_.auth->Authenticate(ctx->client_metadata());
  if (!tenant.ok()) return new FailedReader(ToGrpcStatus(tenant.status()));
  return new UploadReactor(deps_, ctx, response, *tenant);
}

grpc::ServerUnaryReactor* LandscapeServiceImpl::SubmitJob(grpc::CallbackServerContext* ctx,
                                                          const v1::SubmitJobRequest* req, v1::Job* resp) {
  return Unary(deps_, "SubmitJob", ctx, [this, req, resp](const std::string& tenant) -> Status {
    LS_ASSIGN_OR_RETURN(core::JobSpec spec, convert::SpecFromProto(req->spec()));
    LS_ASSIGN_OR_RETURN(redis::SubmitOutcome out,
                        deps_.service->Submit(tenant, req->request_id(), spec, req->priority()));
    convert::JobToProto(out.job, NowMs(), resp);
    if (out.created) {
      spdlog::info("job submitted job_id={} tenant={} points={} request_id=\"{}\"", out.job.id, tenant,
                   out.job.points_total, req->request_id());
    }
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* LandscapeServiceImpl::GetJob(grpc::CallbackServerContext* ctx, const v1::GetJobRequest* req,
                                                       v1::Job* resp) {
  return Unary(deps_, "GetJob", ctx, [this, req, resp](const std::string& tenant) -> Status {
    LS_ASSIGN_OR_RETURN(std::string id, core::JobIdFromName(req->name()));
    LS_ASSIGN_OR_RETURN(core::JobRecord job, deps_.service->Get(tenant, id));
    convert::JobToProto(job, NowMs(), resp);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* LandscapeServiceImpl::ListJobs(grpc::CallbackServerContext* ctx,
                                                         const v1::ListJobsRequest* req, v1::ListJobsResponse* resp) {
  return Unary(deps_, "ListJobs", ctx, [this, req, resp](const std::string& tenant) -> Status {
    redis::ListQuery q;
    if (req->state() != v1::JOB_STATE_UNSPECIFIED) {
      q.state = convert::StateFromProto(req->state());
      if (!q.state) return core::InvalidArgument("state", "unknown job state " + std::to_string(req->state()));
    }
    q.labels.insert(req->labels().begin(), req->labels().end());
    q.page_size = req->page_size();
    q.page_token = req->page_token();
    LS_ASSIGN_OR_RETURN(redis::ListPage page, deps_.service->List(tenant, q));
    const int64_t now = NowMs();
    for (const auto& j : page.jobs) convert::JobToProto(j, now, resp->add_jobs());
    resp->set_next_page_token(page.next_page_token);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* LandscapeServiceImpl::CancelJob(grpc::CallbackServerContext* ctx,
                                                          const v1::CancelJobRequest* req, v1::Job* resp) {
  return Unary(deps_, "CancelJob", ctx, [this, req, resp](const std::string& tenant) -> Status {
    LS_ASSIGN_OR_RETURN(std::string id, core::JobIdFromName(req->name()));
    LS_ASSIGN_OR_RETURN(core::JobRecord job, deps_.service->Cancel(tenant, id));
    convert::JobToProto(job, NowMs(), resp);
    spdlog::info("job cancel requested job_id={} tenant={} state={}", id, tenant, core::Name(job.state));
    return Status::Ok();
  });
}

grpc::ServerWriteReactor<v1::JobEvent>* LandscapeServiceImpl::WatchJob(grpc::CallbackServerContext* ctx,
                                                                       const v1::WatchJobRequest* req) {
  auto tenant = deps_.auth->Authenticate(ctx->client_metadata());
  if (!tenant.ok()) return new FailedWriter<v1::JobEvent>(ToGrpcStatus(tenant.status()));
  auto id = core::JobIdFromName(req->name());
  if (!id.ok()) return new FailedWriter<v1::JobEvent>(ToGrpcStatus(id.status()));
  const std::string& cursor = req->after_cursor();
  if (!cursor.empty() && !redis::ParseStreamId(cursor)) {
    return new FailedWriter<v1::JobEvent>(
        ToGrpcStatus(core::InvalidArgument("after_cursor", "'" + cursor + "' is not an event cursor")));
  }
  return new WatchReactor(deps_, *tenant, *id, cursor.empty() ? "0-0" : cursor);
}

grpc::ServerWriteReactor<v1::SurfaceChunk>* LandscapeServiceImpl::GetSurface(grpc::CallbackServerContext* ctx,
                                                                             const v1::GetSurfaceRequest* req) {
  auto tenant = deps_.auth->Authenticate(ctx->client_metadata());
  if (!tenant.ok()) return new FailedWriter<v1::SurfaceChunk>(ToGrpcStatus(tenant.status()));
  auto id = core::JobIdFromName(req->name());
  if (!id.ok()) return new FailedWriter<v1::SurfaceChunk>(ToGrpcStatus(id.status()));
  struct Cursor {
    bool header_sent = false;
    int64_t next_tile = 0;
    core::JobRecord job;
    std::vector<std::string> metrics;
  };
  auto cur = std::make_shared<Cursor>();
  JobService* service = deps_.service;
  auto next = [service, cur, tenant = *tenant, id = *id]() -> Result<std::optional<v1::SurfaceChunk>> {
    v1::SurfaceChunk chunk;
    if (!cur->header_sent) {
      LS_ASSIGN_OR_RETURN(cur->job, service->Get(tenant, id));
      cur->metrics = cur->job.spec.MetricNames();
      v1::SurfaceHeader* h = chunk.mutable_header();
      convert::JobToProto(cur->job, NowMs(), h->mutable_job());
      for (double x : cur->job.spec.grid.x.Coordinates()) h->add_x_coordinates(x);
      if (cur->job.spec.grid.y) {
        for (double y : cur->job.spec.grid.y->Coordinates()) h->add_y_coordinates(y);
      }
      for (const auto& m : cur->metrics) h->add_metric_names(m);
      h->set_partial(cur->job.state != core::JobState::kSucceeded);
      cur->header_sent = true;
      return std::optional<v1::SurfaceChunk>(std::move(chunk));
    }
    while (chunk.tiles_size() == 0 && cur->next_tile < cur->job.tiles_total) {
      LS_ASSIGN_OR_RETURN(auto tiles, service->ReadSurfaceTiles(cur->job, &cur->next_tile));
      for (const auto& t : tiles) convert::TileToProto(t.tile, t.begin, t.end, t.values, cur->metrics, chunk.add_tiles());
    }
    if (chunk.tiles_size() == 0) return std::optional<v1::SurfaceChunk>();
    return std::optional<v1::SurfaceChunk>(std::move(chunk));
  };
  return new PullWriter<v1::SurfaceChunk>(deps_, "GetSurface", std::move(next));
}

grpc::ServerWriteReactor<v1::ArtifactChunk>* LandscapeServiceImpl::GetArtifact(grpc::CallbackServerContext* ctx,
                                                                               const v1::GetArtifactRequest* req) {
  auto tenant = deps_.auth->Authenticate(ctx->client_metadata());
  if (!tenant.ok()) return new FailedWriter<v1::ArtifactChunk>(ToGrpcStatus(tenant.status()));
  struct Cursor {
    std::optional<redis::ArtifactInfo> info;
    int64_t next_chunk = 0;
    int64_t offset = 0;
  };
  auto cur = std::make_shared<Cursor>();
  JobService* service = deps_.service;
  auto next = [service, cur, tenant = *tenant, sha = req->sha256()]() -> Result<std::optional<v1::ArtifactChunk>> {
    v1::ArtifactChunk chunk;
    if (!cur->info) {
      LS_ASSIGN_OR_RETURN(redis::ArtifactInfo info, service->StatArtifact(tenant, sha));
      cur->info = info;
      chunk.mutable_artifact()->set_sha256(info.sha256);
      chunk.mutable_artifact()->set_size(info.size);
      chunk.mutable_artifact()->set_ref(core::ArtifactRef(info.sha256));
      if (info.chunks == 0) return std::optional<v1::ArtifactChunk>(std::move(chunk));
    } else if (cur->next_chunk >= cur->info->chunks) {
      return std::optional<v1::ArtifactChunk>();
    }
    LS_ASSIGN_OR_RETURN(std::string data, service->ReadArtifactChunk(tenant, sha, cur->next_chunk));
    chunk.set_offset(cur->offset);
    cur->offset += static_cast<int64_t>(data.size());
    ++cur->next_chunk;
    chunk.set_data(std::move(data));
    return std::optional<v1::ArtifactChunk>(std::move(chunk));
  };
  return new PullWriter<v1::ArtifactChunk>(deps_, "GetArtifact", std::move(next));
}

}  // namespace landscape::server
