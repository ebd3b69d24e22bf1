// `landscape submit | watch | get | list | cancel`: the remote commands.
#include <algorithm>
#include <csignal>
#include <cctype>
#include <cstring>
#include <unistd.h>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>

#include "commands.h"
#include "exit_codes.h"
#include "job_flags.h"
#include "landscape/core/architectures.h"
#include "landscape/core/artifacts.h"
#include "landscape/core/job.h"
#include "landscape/core/system.h"
#include "landscape/proto/convert.h"
#include "remote_client.h"
#include "remote_view.h"

namespace landscape::client {

using core::Result;
using core::Status;

bool HaveService() { return true; }

namespace {

// Replaces every local path in the spec by an uploaded artifact. file:// and
// artifact: references stay; built-in data sets stay.
class SpecUploader {
 public:
  explicit SpecUploader(RemoteClient* c) : c_(c) {}

  Status Ref(std::string* ref, const std::string& flag) {
    if (ref->empty()) return Status::Ok();
    const core::FileRef r = core::ParseFileRef(*ref);
    if (r.kind != core::FileRef::Kind::kPath) return Status::Ok();
    if (!std::filesystem::is_regular_file(r.value)) return core::InvalidArgument(flag, "no such file: " + r.value);
    auto it = uploaded_.find(r.value);
    if (it == uploaded_.end()) {
      std::fprintf(stderr, "landscape: uploading %s\n", r.value.c_str());
      LS_ASSIGN_OR_RETURN(std::string sha, c_->Upload(r.value));
      it = uploaded_.emplace(r.value, core::ArtifactRef(sha)).first;
      names_[it->second] = std::filesystem::path(r.value).filename().string();
    }
    *ref = it->second;
    return Status::Ok();
  }

  Status Spec(core::JobSpec* s) {
    LS_RETURN_IF_ERROR(Ref(&s->model.model, "--model"));
    if (!core::IsArchitectureName(s->model.arch)) LS_RETURN_IF_ERROR(Ref(&s->model.arch, "--arch"));
    LS_RETURN_IF_ERROR(Ref(&s->model.model2, "--model2"));
    LS_RETURN_IF_ERROR(Ref(&s->model.model3, "--model3"));
    for (auto& c : s->model.checkpoints) LS_RETURN_IF_ERROR(Ref(&c, "--checkpoints"));
    if (s->directions.kind == core::DirectionKind::kFile) LS_RETURN_IF_ERROR(Ref(&s->directions.file, "--dir-file"));
    LS_ASSIGN_OR_RETURN(core::DataSource src, core::ParseDataSource(s->data.source, "--data"));
    if (src.kind == core::DataSource::Kind::kTensor) {
      std::string loc = src.location;
      LS_RETURN_IF_ERROR(Ref(&loc, "--data"));
      if (loc != src.location) s->data.source = loc;  // "artifact:<sha256>" is a tensor file
    } else if (src.kind == core::DataSource::Kind::kIdx || src.kind == core::DataSource::Kind::kCifar10) {
      // Sent as a path (--data-as-path, or a client without the engine): the workers must see it.
      src.location = std::filesystem::absolute(src.location).string();
      std::fprintf(stderr, "landscape: note: the workers must be able to read %s\n", src.location.c_str());
      s->data.source = core::DataSourceToString(src);
    }
    s->file_names.insert(names_.begin(), names_.end());
    return Status::Ok();
  }

 private:
  RemoteClient* c_;
  std::map<std::string, std::string> uploaded_;
  std::map<std::string, std::string> names_;  // artifact ref -> the uploaded file's name
};

}  // namespace

namespace {

// The note printed when Ctrl-C ends `submit --watch`: written whole by the handler (write(2) is
// async-signal-safe), then exit 130. The job itself runs on on the server.
char g_interrupt_note[1024];
size_t g_interrupt_note_len = 0;

void OnInterruptWhileWatching(int) {
  if (g_interrupt_note_len > 0) (void)!::write(STDERR_FILENO, g_interrupt_note, g_interrupt_note_len);
  ::_exit(kExitInterrupted);
}

void NoteJobRunsOnWhenInterrupted(const std::string& name) {
  const std::string note = "\nlandscape: interrupted; " + name + " runs on on the server\n" +
                           "landscape:   follow it:  landscape watch " + name + "\n" +
                           "landscape:   download:   landscape get " + name + " --out surface.h5\n" +
                           "landscape:   cancel it:  landscape cancel " + name + "\n";
  g_interrupt_note_len = std::min(note.size(), sizeof g_interrupt_note);
  std::memcpy(g_interrupt_note, note.data(), g_interrupt_note_len);
  struct sigaction sa {};
  sa.sa_handler = OnInterruptWhileWatching;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace

int RunSubmit(const SubmitOptions& o) {
  auto client = RemoteClient::Connect(o.remote);
  if (!client.ok()) return Report(client.status());
  core::JobSpec spec = o.spec;
  // A data directory travels as a tensor file of the samples the job evaluates (the workers need not
  // see the client's disk), unless --data-as-path or this client has no engine to read it.
  std::optional<core::TempDir> scratch;
  if (auto src = core::ParseDataSource(spec.data.source, "--data");
      src.ok() && (src->kind == core::DataSource::Kind::kIdx || src->kind == core::DataSource::Kind::kCifar10) &&
      !o.data_as_path && HaveEngine()) {
    scratch.emplace("landscape-submit");
    if (!scratch->ok()) return Report(Status(core::StatusCode::kInternal, "cannot make a temporary directory"));
    if (Status s = PackSpecData(&spec, scratch->File("data.pt")); !s.ok()) return Report(s);
  }
  SpecUploader uploader(client->get());
  if (Status s = uploader.Spec(&spec); !s.ok()) return Report(s);

  v1::SubmitJobRequest req;
  convert::SpecToProto(spec, req.mutable_spec());
  req.set_request_id(o.request_id.empty() ? core::RandomId(32) : o.request_id);
  v1::Job job;
  // The request id makes a retry after a lost answer return the same job.
  auto backoff = std::chrono::milliseconds(300);
  for (int attempt = 1;; ++attempt) {
    auto ctx = (*client)->Context();
    const grpc::Status gs = (*client)->stub().SubmitJob(ctx.get(), req, &job);
    if (gs.ok()) break;
    if (gs.error_code() != grpc::StatusCode::UNAVAILABLE || attempt == 4) return Report((*client)->Check(gs));
    std::this_thread::sleep_for(backoff);
    backoff *= 2;
  }
  std::printf("%s\n", job.name().c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "landscape: submitted %s (%lld points)\n", job.name().c_str(),
               static_cast<long long>(job.progress().points_total()));
  if (!o.watch && o.out.empty() && o.csv.empty() && o.json.empty()) return kExitOk;
  auto id = core::JobIdFromName(job.name());
  NoteJobRunsOnWhenInterrupted(job.name());
  const int rc = (*client)->Watch(*id, o.progress, o.reconnect_for_s);
  if (rc != kExitOk || (o.out.empty() && o.csv.empty() && o.json.empty())) return rc;
  GetOptions g;
  g.remote = o.remote;
  g.job = job.name();
  g.out = o.out;
  g.dir_out = o.dir_out;
  g.csv = o.csv;
  g.json = o.json;
  return (*client)->Get(g);
}

int RunWatch(const WatchOptions& o) {
  auto id = core::JobIdFromName(o.job);
  if (!id.ok()) return Report(id.status());
  auto client = RemoteClient::Connect(o.remote);
  if (!client.ok()) return Report(client.status());
  return (*client)->Watch(*id, o.progress, o.reconnect_for_s, o.json);
}

int RunGet(const GetOptions& o) {
  auto client = RemoteClient::Connect(o.remote);
  if (!client.ok()) return Report(client.status());
  return (*client)->Get(o);
}

int RunList(const ListOptions& o) {
  auto client = RemoteClient::Connect(o.remote);
  if (!client.ok()) return Report(client.status());
  v1::ListJobsRequest req;
  if (!o.state.empty()) {
    std::string name = o.state;  // any case: running, Running, RUNNING
    for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    v1::JobState st;
    if (!v1::JobState_Parse("JOB_STATE_" + name, &st) || st == v1::JOB_STATE_UNSPECIFIED) {
      return Report(core::InvalidArgument("--state", "unknown state '" + o.state +
                                                         "' (QUEUED, PREPARING, RUNNING, SUCCEEDED, FAILED, CANCELLED)"));
    }
    req.set_state(st);
  }
  auto labels = ParseLabels(o.labels);
  if (!labels.ok()) return Report(labels.status());
  for (const auto& [k, v] : *labels) (*req.mutable_labels())[k] = v;
  int shown = 0;
  bool header = o.json;  // no table header for JSON
  nlohmann::json jobs = nlohmann::json::array();
  do {
    req.set_page_size(std::min(o.limit - shown, 1000));
    v1::ListJobsResponse resp;
    auto ctx = (*client)->Context();
    Status s = (*client)->Check((*client)->stub().ListJobs(ctx.get(), req, &resp));
    if (!s.ok()) return Report(s);
    if (!header) {
      std::printf("%-22s %-10s %9s %-20s %s\n", "JOB", "STATE", "DONE", "CREATED", "NAME/ERROR");
      header = true;
    }
    for (const v1::Job& j : resp.jobs()) {
      ++shown;
      if (o.json) {
        jobs.push_back(JobToJson(j));
        continue;
      }
      char created[32] = "";
      const time_t t = static_cast<time_t>(j.create_time().seconds());
      std::tm tm{};
      gmtime_r(&t, &tm);
      std::strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
      const double pct = j.progress().points_total() > 0
                             ? 100.0 * static_cast<double>(j.progress().points_done()) /
                                   static_cast<double>(j.progress().points_total())
                             : 0;
      const std::string state = v1::JobState_Name(j.state()).substr(10);
      const std::string note = j.state() == v1::JOB_STATE_FAILED ? j.error() : j.spec().display_name();
      std::printf("%-22s %-10s %8.1f%% %-20s %s\n", j.name().c_str(), state.c_str(), pct, created, note.c_str());
    }
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty() && shown < o.limit);
  if (o.json) std::printf("%s\n", jobs.dump(2).c_str());
  return kExitOk;
}

int RunCancel(const CancelOptions& o) {
  auto id = core::JobIdFromName(o.job);
  if (!id.ok()) return Report(id.status());
  auto client = RemoteClient::Connect(o.remote);
  if (!client.ok()) return Report(client.status());
  v1::CancelJobRequest req;
  req.set_name(core::JobName(*id));
  v1::Job job;
  auto ctx = (*client)->Context();
  Status s = (*client)->Check((*client)->stub().CancelJob(ctx.get(), req, &job));
  if (!s.ok()) return Report(s);
  std::printf("%s %s\n", job.name().c_str(), v1::JobState_Name(job.state()).substr(10).c_str());
  return kExitOk;
}

}  // namespace landscape::client
