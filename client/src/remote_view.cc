#include "remote_view.h"

#include <cstdio>
#include <ctime>
#include <utility>

namespace landscape::client {

namespace {

std::string StateName(v1::JobState s) { return v1::JobState_Name(s).substr(std::string("JOB_STATE_").size()); }

std::string Rfc3339(const google::protobuf::Timestamp& t) {
  const time_t secs = static_cast<time_t>(t.seconds());
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(t.nanos() / 1000000));
  return std::string(buf) + frac;
}

nlohmann::json ProgressToJson(const v1::Progress& p) {
  return {{"points_done", p.points_done()},
          {"points_total", p.points_total()},
          {"tiles_done", p.tiles_done()},
          {"tiles_total", p.tiles_total()}};
}

// Queued < preparing < running < ended: how far a job has come (a replayed state change is no
// further than the job was when the watch began).
int Rank(v1::JobState s) {
  switch (s) {
    case v1::JOB_STATE_QUEUED: return 1;
    case v1::JOB_STATE_PREPARING: return 2;
    case v1::JOB_STATE_RUNNING: return 3;
    case v1::JOB_STATE_SUCCEEDED:
    case v1::JOB_STATE_FAILED:
    case v1::JOB_STATE_CANCELLED: return 4;
    default: return 0;
  }
}

}  // namespace

nlohmann::json JobToJson(const v1::Job& job) {
  nlohmann::json j = {{"name", job.name()},
                      {"state", StateName(job.state())},
                      {"display_name", job.spec().display_name()},
                      {"labels", nlohmann::json::object()},
                      {"points_done", job.progress().points_done()},
                      {"points_total", job.progress().points_total()}};
  for (const auto& [k, v] : job.spec().labels()) j["labels"][k] = v;
  if (job.has_create_time()) j["create_time"] = Rfc3339(job.create_time());
  if (job.has_start_time()) j["start_time"] = Rfc3339(job.start_time());
  if (job.has_end_time()) j["end_time"] = Rfc3339(job.end_time());
  if (job.state() == v1::JOB_STATE_FAILED) {
    j["error"] = job.error();
    j["error_field"] = job.error_field();
  }
  return j;
}

nlohmann::json EventToJson(const v1::JobEvent& ev) {
  nlohmann::json j = {{"cursor", ev.cursor()}, {"progress", ProgressToJson(ev.progress())}};
  if (ev.has_time()) j["time"] = Rfc3339(ev.time());
  if (ev.has_state_change()) {
    const v1::StateChange& sc = ev.state_change();
    j["state"] = StateName(sc.state());
    if (!sc.message().empty()) j["message"] = sc.message();
    if (!sc.field().empty()) j["field"] = sc.field();
  }
  if (ev.has_tile()) {
    const v1::TileResult& t = ev.tile();
    nlohmann::json metrics = nlohmann::json::object();
    for (const v1::MetricValues& m : t.metrics()) metrics[m.metric()] = std::vector<double>(m.values().begin(), m.values().end());
    j["tile"] = {{"index", t.tile_index()}, {"begin", t.begin()}, {"end", t.end()}, {"metrics", metrics}};
  }
  return j;
}

WatchView::WatchView(std::string name, Options opts, const v1::Job* at_start)
    : name_(std::move(name)), opts_(std::move(opts)) {
  if (at_start == nullptr) return;
  done_at_start_ = at_start->progress().points_done();
  state_at_start_ = at_start->state();
  if (state_at_start_ == v1::JOB_STATE_RUNNING) StartBar(at_start->progress().points_total(), done_at_start_);
}

void WatchView::StartBar(int64_t total, int64_t done) {
  if (opts_.json || bar_ || total <= 0) return;
  bar_ = std::make_unique<ProgressReporter>(total, done, stderr, ProgressFlag(opts_.progress));
}

void WatchView::StateLine(v1::JobState state, const std::string& why) {
  if (opts_.progress == "quiet" && Rank(state) < 4) return;
  std::fprintf(stderr, "landscape: %s %s%s%s\n", name_.c_str(), StateName(state).c_str(), why.empty() ? "" : ": ",
               why.c_str());
}

void WatchView::OnEvent(const v1::JobEvent& ev) {
  if (opts_.json) {
    std::printf("%s\n", EventToJson(ev).dump().c_str());
    std::fflush(stdout);
    return;
  }
  const v1::Progress& p = ev.progress();
  if (ev.has_state_change()) {
    const v1::StateChange& sc = ev.state_change();
    const bool live = Rank(sc.state()) > Rank(state_at_start_);
    if (live && sc.state() == v1::JOB_STATE_RUNNING) StartBar(p.points_total(), p.points_done());
    if (bar_ && Rank(sc.state()) == 4) bar_->Finish();
    StateLine(sc.state(), sc.field().empty() ? sc.message() : sc.field() + ": " + sc.message());
    return;
  }
  if (!ev.has_tile() || p.points_done() <= done_at_start_) return;  // replayed: no rate from the past
  // A live tile without a live RUNNING event (the job ran when the watch began but its snapshot
  // came before): the bar starts with this tile's points as already done.
  StartBar(p.points_total(), p.points_done() - (ev.tile().end() - ev.tile().begin()));
  if (bar_) {
    bar_->Update(p.points_done(), "tiles " + std::to_string(p.tiles_done()) + "/" + std::to_string(p.tiles_total()));
  }
}

void WatchView::OnFinal(const v1::Job& job) {
  if (opts_.json) {
    std::printf("%s\n", JobToJson(job).dump().c_str());
    std::fflush(stdout);
    return;
  }
  if (bar_) bar_->Finish();
  StateLine(job.state(), job.error());
}

}  // namespace landscape::client
