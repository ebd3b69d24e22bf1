#include "http_api.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>

#include "http_assets.h"
#include "http_json.h"
#include "http_status.h"
#include "landscape/redis/records.h"
#include "landscape/redis/reply.h"

namespace landscape::server {

using core::Status;
using nlohmann::json;

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void SendJson(httplib::Response& res, int code, const json& body) {
  res.status = code;
  res.set_content(http::Dump(body), "application/json");
}

void SendError(httplib::Response& res, const Status& s) {
  HttpError e = ToHttpError(s);
  res.status = e.status;
  res.set_content(e.body, "application/json");
}

// Cursors are Redis stream ids: "MS-SEQ" with decimal parts.
bool ValidCursor(const std::string& c) {
  const auto dash = c.find('-');
  if (c.size() > 41 || dash == std::string::npos || dash == 0 || dash + 1 == c.size()) return false;
  for (size_t i = 0; i < c.size(); ++i) {
    if (i != dash && (c[i] < '0' || c[i] > '9')) return false;
  }
  return true;
}

}  // namespace

// One SSE watcher: the hub's deliveries queued for the connection's thread.
struct SseWatch {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> frames;  // "id: ...\nevent: ...\ndata: ...\n\n"
  std::string cursor;              // of the last frame queued
  bool closed = false;             // the hub shut down, or the job ended
  bool failed = false;
  uint64_t sub = 0;
};

struct HttpApi::Impl {
  HttpOptions opts;
  JobService* service = nullptr;
  EventHub* hub = nullptr;
  const TokenAuth* auth = nullptr;
  redis::Schema schema;
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  bool redis_ok = true;  // as of the readiness loop's last PING

  core::Result<std::string> Tenant(const httplib::Request& req) const {
    if (!req.has_header("Authorization")) return auth->AuthenticateHeader(nullptr);
    const std::string value = req.get_header_value("Authorization");
    return auth->AuthenticateHeader(&value);
  }
  // The job named by the route's first match, if the caller may see it.
  core::Result<core::JobRecord> Job(const httplib::Request& req, const std::string& tenant) const {
    LS_ASSIGN_OR_RETURN(std::string id, core::JobIdFromName(req.matches[1].str()));
    return service->Get(tenant, id);
  }
  void Cors(const httplib::Request& req, httplib::Response& res) const {
    if (opts.cors_origins.empty() || !req.has_header("Origin")) return;
    const std::string origin = req.get_header_value("Origin");
    for (const auto& o : opts.cors_origins) {
      if (o == "*" || o == origin) {
        res.set_header("Access-Control-Allow-Origin", o == "*" ? "*" : origin);
        res.set_header("Vary", "Origin");
        res.set_header("Access-Control-Allow-Headers", "Authorization, Last-Event-ID, Content-Type");
        res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        return;
      }
    }
  }
  void Routes(httplib::Server& s);
  void List(const httplib::Request& req, httplib::Response& res, const std::string& tenant);
  void Events(const httplib::Request& req, httplib::Response& res, const std::string& tenant);
};

void HttpApi::Impl::List(const httplib::Request& req, httplib::Response& res, const std::string& tenant) {
  redis::ListQuery q;
  if (req.has_param("state")) {
    auto st = core::ParseJobState(req.get_param_value("state"));
    if (!st.ok()) return SendError(res, core::InvalidArgument("state", "unknown job state '" + req.get_param_value("state") + "'"));
    q.state = *st;
  }
  for (size_t i = 0; i < req.get_param_value_count("label"); ++i) {
    const std::string kv = req.get_param_value("label", i);
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return SendError(res, core::InvalidArgument("label", "expected KEY=VALUE"));
    q.labels[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (req.has_param("page_size")) {
    const std::string v = req.get_param_value("page_size");
    char* end = nullptr;
    const long n = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || n < 0 || n > 1000) {
      return SendError(res, core::InvalidArgument("page_size", "expected an integer in [0, 1000]"));
    }
    q.page_size = static_cast<int>(n);
  }
  q.page_token = req.get_param_value("page_token");
  auto page = service->List(tenant, q);
  if (!page.ok()) return SendError(res, page.status());
  json jobs = json::array();
  const int64_t now = NowMs();
  for (const auto& j : page->jobs) jobs.push_back(http::JobJson(j, now));
  SendJson(res, 200, json{{"jobs", std::move(jobs)}, {"next_page_token", page->next_page_token}});
}

void HttpApi::Impl::Routes(httplib::Server& s) {
  // Every API route: authenticate, then the handler with the tenant.
  auto api = [this](auto handler) {
    return [this, handler](const httplib::Request& req, httplib::Response& res) {
      Cors(req, res);
      auto tenant = Tenant(req);
      if (!tenant.ok()) return SendError(res, tenant.status());
      handler(req, res, *tenant);
    };
  };
  const std::string job = R"(/api/v1/jobs/([^/:]*))";
  s.Get("/api/v1/jobs", api([this](const auto& req, auto& res, const std::string& t) { List(req, res, t); }));
  // Submit: the body is a JobSpec as JSON (core::SpecToJson's form); ?request_id= makes retries idempotent;
  // ?priority= orders the tenant's own jobs.
  s.Post("/api/v1/jobs", api([this](const auto& req, auto& res, const std::string& t) {
    auto spec = core::SpecFromJson(req.body);
    if (!spec.ok()) return SendError(res, spec.status());
    int priority = 0;  // ?priority=N: as SubmitJobRequest.priority
    if (req.has_param("priority")) {
      const std::string v = req.get_param_value("priority");
      char* end = nullptr;
      const long p = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || p < -100 || p > 100) {
        return SendError(res, core::InvalidArgument("priority", "must be a whole number in [-100, 100]"));
      }
      priority = static_cast<int>(p);
    }
    auto out = service->Submit(t, req.get_param_value("request_id"), *spec, priority);
    if (!out.ok()) return SendError(res, out.status());
    if (out->created) spdlog::info("job submitted (http) job_id={} tenant={}", out->job.id, t);
    SendJson(res, out->created ? 201 : 200, http::JobJson(out->job, NowMs()));
  }));
  s.Get(job, api([this](const auto& req, auto& res, const std::string& t) {
    auto j = Job(req, t);
    if (!j.ok()) return SendError(res, j.status());
    SendJson(res, 200, http::JobJson(*j, NowMs()));
  }));
  s.Post(job + ":cancel", api([this](const auto& req, auto& res, const std::string& t) {
    auto id = core::JobIdFromName(req.matches[1].str());
    if (!id.ok()) return SendError(res, id.status());
    auto j = service->Cancel(t, *id);
    if (!j.ok()) return SendError(res, j.status());
    SendJson(res, 200, http::JobJson(*j, NowMs()));
  }));
  auto surface = [this](bool csv) {
    return [this, csv](const auto& req, auto& res, const std::string& t) {
      auto j = Job(req, t);
      if (!j.ok()) return SendError(res, j.status());
      auto sj = http::SurfaceJson(service, *j, NowMs());
      if (!sj.ok()) return SendError(res, sj.status());
      if (!csv) return SendJson(res, 200, *sj);
      res.set_header("Content-Disposition", "attachment; filename=\"" + j->id + ".csv\"");
      res.set_content(http::SurfaceCsv(*sj), "text/csv");
    };
  };
  s.Get(job + "/surface", api(surface(false)));
  s.Get(job + "/surface.csv", api(surface(true)));
  // The surface file as `landscape get --out` writes it; a job not yet finished gives its partial
  // surface (attribute partial = "true", point_done), as `landscape get` does, never an error.
  s.Get(job + "/surface.h5", api([this](const auto& req, auto& res, const std::string& t) {
    auto j = Job(req, t);
    if (!j.ok()) return SendError(res, j.status());
    auto bytes = http::SurfaceH5(service, *j);
    if (!bytes.ok()) return SendError(res, bytes.status());
    res.set_header("Content-Disposition", "attachment; filename=\"" + j->id + ".h5\"");
    res.set_content(*bytes, "application/x-hdf5");
  }));
  s.Get(job + "/events", api([this](const auto& req, auto& res, const std::string& t) { Events(req, res, t); }));
  s.Options(R"(/api/v1/.*)", [this](const httplib::Request& req, httplib::Response& res) {
    Cors(req, res);
    res.status = 204;
  });
  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  // Ready: serving and Redis answers (503 with the reason otherwise). Alive: the process answers.
  s.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    res.status = stopping || !redis_ok ? 503 : 200;
    res.set_content(stopping ? "stopping\n" : !redis_ok ? "redis unreachable\n" : "ok\n", "text/plain");
  });
  // The web UI: embedded files; "/" and "/jobs/..." are the single page.
  s.Get(R"(/(.*))", [](const httplib::Request& req, httplib::Response& res) {
    std::string path = req.matches[1].str();
    if (path.empty() || path.rfind("jobs/", 0) == 0) path = "index.html";
    const WebAsset* a = FindWebAsset(path);
    if (a == nullptr) {
      res.status = 404;
      return res.set_content(HttpErrorBody("NOT_FOUND", "no such page"), "application/json");
    }
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; object-src 'none'; base-uri 'none'");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_content(reinterpret_cast<const char*>(a->data), a->size, a->type);
  });
}

void HttpApi::Impl::Events(const httplib::Request& req, httplib::Response& res, const std::string& tenant) {
  auto job = Job(req, tenant);
  if (!job.ok()) return SendError(res, job.status());
  std::string cursor = "0-0";
  if (req.has_header("Last-Event-ID")) {
    cursor = req.get_header_value("Last-Event-ID");
  } else if (req.has_param("after")) {
    cursor = req.get_param_value("after");
  }
  if (!ValidCursor(cursor)) {
    return SendError(res, core::InvalidArgument("Last-Event-ID", "expected an event id MS-SEQ (from an 'id:' line)"));
  }
  if (core::IsFinal(job->state)) {
    auto last = service->LastEventId(job->id);
    if (!last.ok()) return SendError(res, last.status());
    if (last->empty() || !redis::StreamIdLess(cursor, *last)) {
      // Nothing after the cursor: an empty stream with an "end" event (EventSource clients close on it).
      res.set_header("Cache-Control", "no-cache");
      res.set_content("event: end\ndata: {}\n\n", "text/event-stream");
      return;
    }
  }
  const std::vector<std::string> metrics = job->spec.MetricNames();
  auto w = std::make_shared<SseWatch>();
  w->cursor = cursor;
  w->sub = hub->Subscribe(
      schema.Events(job->id), cursor,
      [w, metrics](std::vector<redis::StreamEntry> entries) {  // hub thread: queue, never block
        std::lock_guard<std::mutex> lock(w->mu);
        for (const auto& e : entries) {
          auto ev = redis::ParseJobEvent(e, metrics.size());
          if (!ev.ok()) {
            w->failed = w->closed = true;
            break;
          }
          const char* type = ev->type == core::JobEvent::Type::kState ? "state" : "tile";
          w->frames.push_back("id: " + ev->cursor + "\nevent: " + type + "\ndata: " +
                              http::Dump(http::EventJson(*ev, metrics)) + "\n\n");
          w->cursor = ev->cursor;
          if (ev->type == core::JobEvent::Type::kState && core::IsFinal(ev->state)) {
            w->frames.push_back("event: end\ndata: {}\n\n");
            w->closed = true;
            break;
          }
        }
        w->cv.notify_all();
      },
      [w] {
        std::lock_guard<std::mutex> lock(w->mu);
        w->closed = true;
        w->cv.notify_all();
      });
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  const auto deadline = std::chrono::steady_clock::now() + opts.max_stream;
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, w, deadline](size_t, httplib::DataSink& sink) {
        std::deque<std::string> out;
        bool end = false;
        std::string cursor;
        {
          std::unique_lock<std::mutex> lock(w->mu);
          w->cv.wait_for(lock, opts.keepalive, [&] { return !w->frames.empty() || w->closed; });
          out.swap(w->frames);
          end = w->closed || std::chrono::steady_clock::now() > deadline;
          cursor = w->cursor;
        }
        if (out.empty() && !end) out.push_back(": keepalive\n\n");
        for (const auto& f : out) {
          if (!sink.is_writable() || !sink.write(f.data(), f.size())) return false;  // the client left
        }
        if (end) {
          sink.done();
        } else if (!out.empty() && out.front()[0] != ':') {
          hub->Arm(w->sub, cursor);  // delivered: ready for the next batch
        }
        return true;
      },
      [this, w](bool) { hub->Unsubscribe(w->sub); });
}

core::Result<std::unique_ptr<HttpApi>> HttpApi::Start(const HttpOptions& opts, JobService* service, EventHub* hub,
                                                      const TokenAuth* auth, redis::Schema schema) {
  std::unique_ptr<HttpApi> h(new HttpApi());
  h->impl_ = std::make_unique<Impl>();
  Impl& impl = *h->impl_;
  impl.opts = opts;
  impl.service = service;
  impl.hub = hub;
  impl.auth = auth;
  impl.schema = std::move(schema);
  h->http_ = std::make_unique<httplib::Server>();
  httplib::Server& s = *h->http_;
  const size_t threads = std::max<size_t>(opts.threads, 2);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.set_payload_max_length(opts.max_body_bytes);
  s.set_read_timeout(std::chrono::seconds(10));
  s.set_write_timeout(std::chrono::seconds(10));
  s.set_keep_alive_timeout(5);
  impl.Routes(s);
  // Errors the library decides (a bad route, a URI over 8 KiB, a body too large) get a JSON body too.
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    const char* code = res.status == 404 ? "NOT_FOUND" : res.status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT";
    res.set_content(HttpErrorBody(code, "HTTP status " + std::to_string(res.status)),
                    "application/json");
  });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("http handler failed: {}", what);
    res.status = 500;
    res.set_content(HttpErrorBody("INTERNAL", what), "application/json");
  });
  const auto colon = opts.listen.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    try {
      port = std::stoi(opts.listen.substr(colon + 1));
    } catch (...) {
      port = -1;
    }
  }
  if (colon == std::string::npos || port < 0 || port > 65535) {
    return core::InvalidArgument("--http", "expected HOST:PORT, got '" + opts.listen + "'");
  }
  std::string host = opts.listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  h->port_ = port == 0 ? s.bind_to_any_port(host) : (s.bind_to_port(host, port) ? port : -1);
  if (h->port_ <= 0) {
    return Status(core::StatusCode::kUnavailable, "cannot listen on " + opts.listen + " (in use, or a bad address)",
                  "--http");
  }
  h->thread_ = std::thread([srv = h->http_.get()] { srv->listen_after_bind(); });
  return h;
}

void HttpApi::Shutdown() {
  if (stopped_.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  http_->stop();  // no new connections; SSE streams end when the hub shuts down (closed callbacks)
  if (thread_.joinable()) thread_.join();
}

void HttpApi::SetRedisReachable(bool reachable) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->redis_ok = reachable;
}

HttpApi::~HttpApi() { Shutdown(); }

}  // namespace landscape::server
