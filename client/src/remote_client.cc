#include "remote_client.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "exit_codes.h"
#include "landscape/core/artifacts.h"
#include "progress.h"
#include "landscape/core/sha256.h"
#include "landscape/io/hdf5_files.h"
#include "landscape/io/summary.h"
#include "landscape/proto/convert.h"
#include "remote_view.h"

namespace landscape::client {

using core::Result;
using core::Status;
using core::StatusCode;

core::Status FromGrpc(const grpc::Status& s, const std::string& server) {
  if (s.ok()) return Status::Ok();
  StatusCode c = StatusCode::kInternal;
  switch (s.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT: c = StatusCode::kInvalidArgument; break;
    case grpc::StatusCode::NOT_FOUND: c = StatusCode::kNotFound; break;
    case grpc::StatusCode::ALREADY_EXISTS: c = StatusCode::kAlreadyExists; break;
    case grpc::StatusCode::FAILED_PRECONDITION: c = StatusCode::kFailedPrecondition; break;
    case grpc::StatusCode::PERMISSION_DENIED: c = StatusCode::kPermissionDenied; break;
    case grpc::StatusCode::UNAUTHENTICATED: c = StatusCode::kUnauthenticated; break;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: c = StatusCode::kResourceExhausted; break;
    case grpc::StatusCode::UNAVAILABLE:
      return core::Unavailable("cannot reach the server at " + server + ": " + s.error_message() +
                               " (is a landscape-server running there? start one with deploy/local/launch.sh or "
                               "landscape-server, or point --server / LANDSCAPE_SERVER at yours)");
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Status(StatusCode::kDeadlineExceeded, "the server at " + server + " did not answer in time");
    case grpc::StatusCode::CANCELLED: c = StatusCode::kAborted; break;  // the call, not the job
    case grpc::StatusCode::ABORTED: c = StatusCode::kAborted; break;
    case grpc::StatusCode::DATA_LOSS: c = StatusCode::kDataLoss; break;
    case grpc::StatusCode::UNIMPLEMENTED: c = StatusCode::kUnimplemented; break;
    default: c = StatusCode::kInternal; break;
  }
  return Status(c, "server: " + s.error_message());
}

std::string WithDefaultPort(const std::string& server) {
  if (server.empty() || server.find(':') == std::string::npos) return server.empty() ? server : server + ":50051";
  if (server.front() == '[' && server.back() == ']') return server + ":50051";  // [IPv6] without a port
  return server;  // HOST:PORT, a bare IPv6 address, or a target with a scheme
}

Result<std::unique_ptr<RemoteClient>> RemoteClient::Connect(const RemoteOptions& opts) {
  if (opts.server.empty()) return core::InvalidArgument("--server", "no server given (--server or LANDSCAPE_SERVER)");
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (opts.tls || !opts.ca_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    if (!opts.ca_file.empty()) {
      std::ifstream in(opts.ca_file);
      if (!in) return core::InvalidArgument("--ca", "cannot read " + opts.ca_file);
      std::stringstream ss;
      ss << in.rdbuf();
      ssl.pem_root_certs = ss.str();
    }
    creds = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto c = std::unique_ptr<RemoteClient>(new RemoteClient());
  c->opts_ = opts;
  c->opts_.server = WithDefaultPort(opts.server);
  c->channel_ = grpc::CreateCustomChannel(c->opts_.server, creds, args);
  c->stub_ = v1::LandscapeService::NewStub(c->channel_);
  return c;
}

std::unique_ptr<grpc::ClientContext> RemoteClient::Context(double timeout_s) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!opts_.token.empty()) ctx->AddMetadata("authorization", "Bearer " + opts_.token);
  if (timeout_s > 0) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000)));
  }
  return ctx;
}

Result<std::string> RemoteClient::Upload(const std::string& path) {
  LS_ASSIGN_OR_RETURN(std::string sha, core::Sha256File(path));
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return core::NotFound("cannot open " + path);
  // The deadline grows with the size: 10 s per started 64 MiB on top of the usual one.
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  auto ctx = Context(opts_.timeout_s + 10.0 * static_cast<double>(size / (64 << 20) + 1));
  v1::Artifact artifact;
  auto writer = stub_->UploadArtifact(ctx.get(), &artifact);
  v1::UploadArtifactRequest req;
  req.set_filename(std::filesystem::path(path).filename().string());
  req.set_expected_sha256(sha);
  std::string buf(1 << 20, '\0');
  size_t n;
  bool first = true;
  while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0 || first) {
    req.set_data(buf.data(), n);
    if (!writer->Write(req)) break;  // the server ended the call: Finish() says why
    req.clear_filename();
    req.clear_expected_sha256();
    first = false;
    if (n == 0) break;
  }
  writer->WritesDone();
  LS_RETURN_IF_ERROR(Check(writer->Finish()).WithContext("uploading " + path));
  if (artifact.sha256() != sha) return core::Internal("the server stored " + path + " under another hash");
  return sha;
}

namespace {

int ExitForState(v1::JobState s) {
  switch (s) {
    case v1::JOB_STATE_SUCCEEDED: return kExitOk;
    case v1::JOB_STATE_FAILED: return kExitJobFailed;
    case v1::JOB_STATE_CANCELLED: return kExitCancelled;
    default: return kExitRuntime;
  }
}

bool Final(v1::JobState s) {
  return s == v1::JOB_STATE_SUCCEEDED || s == v1::JOB_STATE_FAILED || s == v1::JOB_STATE_CANCELLED;
}

bool Retryable(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE || s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
         s.error_code() == grpc::StatusCode::INTERNAL || s.error_code() == grpc::StatusCode::UNKNOWN;
}

double Seconds(const google::protobuf::Timestamp& t) { return static_cast<double>(t.seconds()) + t.nanos() * 1e-9; }

// A service job's timings in seconds, from its record and the state changes at the head of its event
// stream (read up to RUNNING, before any tile): queue_wait (submitted -> PREPARING), prepare
// (PREPARING -> RUNNING), compute (RUNNING -> end) and total (submitted -> end); each only once known.
std::map<std::string, double> JobTimings(v1::LandscapeService::Stub& stub, grpc::ClientContext* ctx,
                                         const v1::Job& job) {
  std::map<std::string, double> t;
  const double created = Seconds(job.create_time());
  if (job.has_start_time() && job.has_end_time()) t["compute"] = Seconds(job.end_time()) - Seconds(job.start_time());
  if (job.has_create_time() && job.has_end_time()) t["total"] = Seconds(job.end_time()) - created;
  if (!job.has_start_time()) return t;
  v1::WatchJobRequest req;
  req.set_name(job.name());
  auto reader = stub.WatchJob(ctx, req);
  v1::JobEvent ev;
  std::optional<double> preparing;
  while (reader->Read(&ev)) {
    if (ev.has_tile()) break;
    if (!ev.has_state_change()) continue;
    const v1::JobState s = ev.state_change().state();
    if (s == v1::JOB_STATE_PREPARING) preparing = Seconds(ev.time());  // the last one, after any retry
    if (s == v1::JOB_STATE_RUNNING) break;
  }
  ctx->TryCancel();
  reader->Finish();
  if (preparing) {
    t["queue_wait"] = *preparing - created;
    t["prepare"] = Seconds(job.start_time()) - *preparing;
  }
  return t;
}

}  // namespace

int RemoteClient::Watch(const std::string& id, const std::string& progress, double reconnect_for_s, bool json) {
  const std::string name = core::JobName(id);
  std::string cursor;  // of the last event received
  // The job as the watch begins: the stream's replay of its history is told apart by it.
  v1::GetJobRequest start_req;
  start_req.set_name(name);
  v1::Job at_start;
  auto start_ctx = Context();
  const grpc::Status start = stub_->GetJob(start_ctx.get(), start_req, &at_start);
  if (!start.ok() && !Retryable(start)) return Report(Check(start));
  WatchView view(name, {progress, json}, start.ok() ? &at_start : nullptr);
  auto last_contact = std::chrono::steady_clock::now();
  auto backoff = std::chrono::milliseconds(200);
  v1::JobState state = v1::JOB_STATE_UNSPECIFIED;
  for (;;) {
    auto ctx = Context(0);  // a watch lasts as long as the job
    v1::WatchJobRequest req;
    req.set_name(name);
    req.set_after_cursor(cursor);
    auto reader = stub_->WatchJob(ctx.get(), req);
    v1::JobEvent ev;
    while (reader->Read(&ev)) {
      last_contact = std::chrono::steady_clock::now();
      backoff = std::chrono::milliseconds(200);
      cursor = ev.cursor();
      if (ev.has_state_change()) state = ev.state_change().state();
      view.OnEvent(ev);
    }
    const grpc::Status s = reader->Finish();
    if (Final(state)) {
      if (state == v1::JOB_STATE_SUCCEEDED && !json) std::printf("%s SUCCEEDED\n", name.c_str());
      return ExitForState(state);
    }
    if (s.ok()) {
      // The stream ended without a final state: ask for the job before resuming (never spin).
      v1::GetJobRequest greq;
      greq.set_name(name);
      v1::Job job;
      auto gctx = Context();
      const grpc::Status gs = stub_->GetJob(gctx.get(), greq, &job);
      if (gs.ok() && Final(job.state())) {
        view.OnFinal(job);
        return ExitForState(job.state());
      }
      std::this_thread::sleep_for(backoff);
      continue;
    }
    if (!Retryable(s)) return Report(Check(s));
    const double silent = std::chrono::duration<double>(std::chrono::steady_clock::now() - last_contact).count();
    if (silent > reconnect_for_s) {
      return Report(Check(s).WithContext("gave up watching " + name + " after " +
                                         std::to_string(static_cast<int>(silent)) + " s"));
    }
    std::fprintf(stderr, "landscape: stream lost (%s); reconnecting after cursor %s\n", s.error_message().c_str(),
                 cursor.empty() ? "(start)" : cursor.c_str());
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

Result<std::string> RemoteClient::Download(const std::string& sha256, const std::string& what) {
  auto ctx = Context(opts_.timeout_s * 10);
  v1::GetArtifactRequest req;
  req.set_sha256(sha256);
  auto reader = stub_->GetArtifact(ctx.get(), req);
  std::string bytes;
  v1::ArtifactChunk chunk;
  while (reader->Read(&chunk)) bytes += chunk.data();
  core::Status s = Check(reader->Finish());
  if (!s.ok()) return s.WithContext("downloading " + what);
  if (core::Sha256Hex(bytes) != sha256) return core::Internal(what + " arrived corrupted");
  return bytes;
}

int RemoteClient::Get(const GetOptions& o) {
  auto id = core::JobIdFromName(o.job);
  if (!id.ok()) return Report(id.status());
  if (o.out.empty() && o.csv.empty() && o.json.empty()) {
    return Report(core::InvalidArgument("--out", "say where to write the surface (--out, --csv or --json)"));
  }
  auto ctx = Context(opts_.timeout_s * 10);
  v1::GetSurfaceRequest req;
  req.set_name(core::JobName(*id));
  auto reader = stub_->GetSurface(ctx.get(), req);
  v1::SurfaceChunk chunk;
  std::optional<io::Surface> surface;
  v1::SurfaceHeader header;
  while (reader->Read(&chunk)) {
    if (chunk.has_header()) {
      header = chunk.header();
      auto spec = convert::SpecFromProto(header.job().spec());
      if (!spec.ok()) return Report(spec.status());
      surface = io::NewJobSurface(*spec, header.job().name(), "");
    }
    if (!surface) return Report(core::Internal("the server sent tiles before the surface header"));
    const auto total = static_cast<int64_t>(surface->PointCount());
    for (const v1::TileResult& t : chunk.tiles()) {
      if (t.begin() < 0 || t.end() > total || t.begin() >= t.end()) {
        return Report(core::Internal("the server sent tile " + std::to_string(t.tile_index()) + " outside the grid"));
      }
      for (const v1::MetricValues& mv : t.metrics()) {
        auto it = surface->metrics.find(mv.metric());
        if (it == surface->metrics.end() || mv.values_size() != t.end() - t.begin()) {
          return Report(core::Internal("the server sent malformed values of tile " + std::to_string(t.tile_index())));
        }
        for (int64_t i = 0; i < mv.values_size(); ++i) it->second[static_cast<size_t>(t.begin() + i)] = mv.values(static_cast<int>(i));
      }
      for (int64_t k = t.begin(); k < t.end(); ++k) surface->done[static_cast<size_t>(k)] = 1;
    }
  }
  core::Status s = Check(reader->Finish());
  if (!s.ok()) return Report(s);
  if (!surface) return Report(core::Internal("the server sent no surface"));
  const bool partial = surface->DoneCount() < surface->PointCount();
  io::FinishJobSurface({header.job().surface_attributes().begin(), header.job().surface_attributes().end()},
                       &*surface);

  // The direction file in the reference's layout, and a PCA job's projection file.
  std::filesystem::path stem(o.out);
  if (stem.extension() == ".h5") stem.replace_extension("");
  if (!header.job().direction_artifact().empty() && !o.out.empty()) {
    const std::string dir_out = o.dir_out.empty() ? stem.string() + ".dirs.h5" : o.dir_out;
    auto bytes = Download(header.job().direction_artifact(), "the direction file");
    if (bytes.ok()) {
      core::Status ws = io::WriteTextFile(dir_out, *bytes);
      if (!ws.ok()) return Report(ws);
      surface->dir_file = dir_out;
      std::fprintf(stderr, "landscape: wrote %s\n", dir_out.c_str());
    } else if (bytes.status().code() == core::StatusCode::kNotFound) {
      // Expired (an artifact TTL shorter than the job's retention): the values are still worth having.
      surface->dir_file = core::ArtifactRef(header.job().direction_artifact());
      std::fprintf(stderr, "landscape: warning: %s; writing the surface without its direction file\n",
                   bytes.status().ToString().c_str());
    } else {
      return Report(bytes.status());
    }
  }
  if (!header.job().projection_artifact().empty() && !o.out.empty()) {
    const std::string proj_out = stem.string() + ".proj.h5";
    auto bytes = Download(header.job().projection_artifact(), "the projection file");
    if (bytes.ok()) {
      core::Status ws = io::WriteTextFile(proj_out, *bytes);
      if (!ws.ok()) return Report(ws);
      std::fprintf(stderr, "landscape: wrote %s\n", proj_out.c_str());
    } else if (bytes.status().code() == core::StatusCode::kNotFound) {
      std::fprintf(stderr, "landscape: warning: %s; writing the surface without the projection file\n",
                   bytes.status().ToString().c_str());
    } else {
      return Report(bytes.status());
    }
  }
  if (!o.out.empty()) {
    core::Status ws = io::WriteSurfaceFile(o.out, *surface);
    if (!ws.ok()) return Report(ws);
    std::fprintf(stderr, "landscape: wrote %s (%zu of %zu points%s)\n", o.out.c_str(), surface->DoneCount(),
                 surface->PointCount(), partial ? ", PARTIAL: the job has not finished" : "");
  }
  if (!o.csv.empty()) {
    core::Status cs = io::WriteSurfaceCsv(o.csv, *surface);
    if (!cs.ok()) return Report(cs);
    std::fprintf(stderr, "landscape: wrote %s\n", o.csv.c_str());
  }
  if (!o.json.empty()) {
    io::SummaryContext sc;
    sc.spec_json = surface->attributes["spec"];
    auto spec = convert::SpecFromProto(header.job().spec());
    if (spec.ok()) sc.labels = spec->labels;
    sc.extra["job"] = header.job().name();
    sc.extra["state"] = v1::JobState_Name(header.job().state());
    sc.timings = JobTimings(*stub_, Context().get(), header.job());
    core::Status js = io::WriteTextFile(o.json, io::SurfaceSummaryJson(*surface, sc));
    if (!js.ok()) return Report(js);
    std::fprintf(stderr, "landscape: wrote %s\n", o.json.c_str());
  }
  return kExitOk;
}

}  // namespace landscape::client
