#include "landscape/redis/job_store.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "landscape/redis/records.h"
#include "landscape/redis/reply.h"
#include "scripts.h"

namespace landscape::redis {

using core::StatusCode;

JobStore::JobStore(std::shared_ptr<ConnectionPool> pool, Schema schema, JobStoreOptions opts)
    : pool_(std::move(pool)), schema_(std::move(schema)), opts_(opts) {}

std::vector<std::string> JobStore::JobKeys(const std::string& id) const {
  return {schema_.Job(id), schema_.Events(id), schema_.Results(id), schema_.Stats(), schema_.Queue()};
}

Result<SubmitOutcome> JobStore::Submit(const std::string& tenant, const std::string& request_id,
                                       const core::JobSpec& spec, const SubmitSchedule& schedule) {
  const std::string id = core::RandomId(16);
  const std::string spec_json = core::SpecToJson(spec);
  std::vector<std::string> keys = JobKeys(id);
  keys.push_back(schema_.TenantJobs(tenant));
  keys.push_back(schema_.Request(tenant, request_id));
  Reply reply(ReplyPtr(nullptr));
  {
    LS_ASSIGN_OR_RETURN(auto c, pool_->Acquire());
    LS_ASSIGN_OR_RETURN(reply, scripts::Submit().Run(*c, keys,
                                                     {id, tenant, request_id, spec_json,
                                                      std::to_string(spec.grid.PointCount()),
                                                      std::to_string(opts_.retention.count()),
                                                      std::to_string(std::clamp(schedule.priority, -100, 100)),
                                                      schedule.weight > 0 ? std::to_string(schedule.weight) : "",
                                                      std::to_string(std::max<int64_t>(0, schedule.max_jobs)),
                                                      std::to_string(std::max<int64_t>(0, schedule.max_queued_points)),
                                                      std::to_string(std::max<int64_t>(0, schedule.max_tiles_in_flight))}));
  }
  if (reply.size() == 4) {  // {2, quota, used, limit}: refused
    const std::string quota(reply[1].str());
    LS_ASSIGN_OR_RETURN(int64_t used, ParseInteger(reply[2], "submit quota"));
    LS_ASSIGN_OR_RETURN(int64_t limit, ParseInteger(reply[3], "submit quota"));
    const std::string what = quota == "max_jobs"
                                 ? std::to_string(used) + " active jobs; one more"
                                 : std::to_string(used) + " points queued; " +
                                       std::to_string(spec.grid.PointCount()) + " more";
    return Status(StatusCode::kResourceExhausted,
                  "tenant '" + tenant + "' is over its quota " + quota + " = " + std::to_string(limit) + " (" + what +
                      " would exceed it); wait for a job to end or cancel one");
  }
  if (reply.size() != 2) return core::Internal("redis: submit: unexpected reply " + reply.view().Describe());
  LS_ASSIGN_OR_RETURN(int64_t created, ParseInteger(reply[0], "submit"));
  LS_ASSIGN_OR_RETURN(std::string job_id, ParseString(reply[1], "submit"));
  SubmitOutcome out;
  out.created = created == 1;
  LS_ASSIGN_OR_RETURN(out.job, Get(job_id));
  if (!out.created && core::SpecToJson(out.job.spec) != spec_json) {
    return Status(StatusCode::kAlreadyExists,
                  "request_id '" + request_id + "' was used for " + core::JobName(job_id) + " with another spec",
                  "request_id");
  }
  return out;
}

Result<core::JobRecord> JobStore::Get(const std::string& id) {
  LS_ASSIGN_OR_RETURN(auto c, pool_->Acquire());
  return LoadJobRecord(*c, schema_, id);
}

namespace {

struct IndexPosition {
  std::string score = "+inf";
  std::string id;  // "" = before every member of `score`
};

IndexPosition ParseToken(const std::string& token) {
  IndexPosition p;
  const auto colon = token.find(':');
  if (colon != std::string::npos) {
    p.score = token.substr(0, colon);
    p.id = token.substr(colon + 1);
  }
  return p;
}

bool Matches(const core::JobRecord& job, const ListQuery& q) {
  if (q.state && job.state != *q.state) return false;
  for (const auto& [k, v] : q.labels) {
    auto it = job.spec.labels.find(k);
    if (it == job.spec.labels.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace

Result<ListPage> JobStore::List(const std::string& tenant, const ListQuery& query) {
  constexpr int kBatch = 256;
  constexpr int kMaxScanned = 5000;  // index entries looked at per call; the page may then be short
  if (!query.page_token.empty() && query.page_token.find(':') == std::string::npos) {
    return core::InvalidArgument("page_token", "malformed page token");
  }
  ListPage page;
  IndexPosition pos = ParseToken(query.page_token);
  const std::string index = schema_.TenantJobs(tenant);
  LS_ASSIGN_OR_RETURN(auto c, pool_->Acquire());
  int scanned = 0;
  while (static_cast<int>(page.jobs.size()) < query.page_size) {
    if (scanned >= kMaxScanned) {
      page.next_page_token = pos.score + ":" + pos.id;
      return page;
    }
    LS_ASSIGN_OR_RETURN(Reply r, c->Command({"ZREVRANGEBYSCORE", index, pos.score, "-inf", "WITHSCORES", "LIMIT", "0",
                                             std::to_string(kBatch)}));
    LS_RETURN_IF_ERROR(CheckReply(r.view(), "ZREVRANGEBYSCORE"));
    // Members of equal score come in reverse lexicographic order: skip those at or before the position.
    std::vector<std::pair<std::string, std::string>> members;  // (id, score)
    for (size_t i = 0; i + 1 < r.size(); i += 2) {
      std::string id(r[i].str()), score(r[i + 1].str());
      if (score == pos.score && !pos.id.empty() && id >= pos.id) continue;
      members.emplace_back(std::move(id), std::move(score));
    }
    if (members.empty()) break;
    std::vector<std::vector<std::string>> cmds;
    for (const auto& m : members) cmds.push_back({"HGETALL", schema_.Job(m.first)});
    LS_ASSIGN_OR_RETURN(auto hashes, c->Pipeline(cmds));
    for (size_t i = 0; i < members.size(); ++i) {
      ++scanned;
      pos.id = members[i].first;
      pos.score = members[i].second;
      LS_ASSIGN_OR_RETURN(auto hash, ParseHash(hashes[i].view(), "HGETALL job"));
      if (hash.empty()) {  // expired: prune the index
        LS_RETURN_IF_ERROR(c->Command({"ZREM", index, members[i].first}).status());
        continue;
      }
      auto job = ParseJobRecord(hash);
      if (!job.ok() || !Matches(*job, query)) continue;
      page.jobs.push_back(std::move(*job));
      if (static_cast<int>(page.jobs.size()) == query.page_size) {
        const bool more = i + 1 < members.size() || r.size() / 2 == static_cast<size_t>(kBatch);
        if (more) page.next_page_token = pos.score + ":" + pos.id;
        return page;
      }
    }
    if (r.size() / 2 < static_cast<size_t>(kBatch)) break;
  }
  return page;
}

Result<core::JobRecord> JobStore::Cancel(const std::string& id) {
  {
    LS_ASSIGN_OR_RETURN(auto c, pool_->Acquire());
    LS_RETURN_IF_ERROR(scripts::CancelJob().Run(*c, JobKeys(id), {"cancelled by the client"}).status());
  }
  return Get(id);
}

Result<std::vector<core::JobEvent>> JobStore::ReadEvents(const std::string& id, const std::string& after,
                                                         int64_t count, size_t metric_count) {
  const std::string start = after.empty() || after == "0-0" ? "-" : "(" + after;
  LS_ASSIGN_OR_RETURN(auto c, pool_->Acquire());
  LS_ASSIGN_OR_RETURN(Reply r, c->Command({"XRANGE", schema_.Events(id), start, "+", "COUNT", std::to_string(count)}));
  LS_ASSIGN_OR_RETURN(auto entries, ParseEntries(r.view(), "XRANGE events"));
  std::vector<core::JobEvent> out;
  out.reserve(entries.size());
  for (const auto& e : entries) {
    LS_ASSIGN_OR_RETURN(core::JobEvent ev, ParseJobEvent(e, metric_count));
    out.push_back(std::move(ev));
  }
  return out;
}

Result<std::string> JobStore::LastEventId(const std::string& id) {
  LS_ASSIGN_OR_RETURN(auto c, pool_->Acquire());
  LS_ASSIGN_OR_RETURN(Reply r, c->Command({"XREVRANGE", schema_.Events(id), "+", "-", "COUNT", "1"}));
  LS_ASSIGN_OR_RETURN(auto entries, ParseEntries(r.view(), "XREVRANGE events"));
  return entries.empty() ? std::string() : entries[0].id;
}

Result<std::vector<std::optional<std::string>>> JobStore::ReadTiles(const std::string& id, int64_t first,
                                                                    int64_t count) {
  std::vector<std::optional<std::string>> out;
  if (count <= 0) return out;
  std::vector<std::string> cmd{"HMGET", schema_.Results(id)};
  for (int64_t t = first; t < first + count; ++t) cmd.push_back(std::to_string(t));
  LS_ASSIGN_OR_RETURN(auto c, pool_->Acquire());
  LS_ASSIGN_OR_RETURN(Reply r, c->Command(cmd));
  LS_RETURN_IF_ERROR(CheckReply(r.view(), "HMGET results"));
  for (size_t i = 0; i < r.size(); ++i) {
    LS_ASSIGN_OR_RETURN(auto v, ParseOptionalString(r[i], "HMGET results"));
    out.push_back(std::move(v));
  }
  return out;
}

Result<StoreStats> JobStore::Stats() {
  StoreStats s;
  LS_ASSIGN_OR_RETURN(auto c, pool_->Acquire());
  LS_ASSIGN_OR_RETURN(auto replies, c->Pipeline({{"HGETALL", schema_.Stats()},
                                                 {"XLEN", schema_.Queue()},
                                                 {"XINFO", "GROUPS", schema_.Queue()},
                                                 {"XRANGE", schema_.Queue(), "-", "+", "COUNT", "1"},
                                                 {"XLEN", schema_.DeadLetter()},
                                                 {"TIME"},
                                                 {"HGETALL", schema_.Inflight()}}));
  LS_ASSIGN_OR_RETURN(auto counters, ParseHash(replies[0].view(), "HGETALL stats"));
  for (const auto& [k, v] : counters) s.counters[k] = std::strtoll(v.c_str(), nullptr, 10);
  LS_ASSIGN_OR_RETURN(s.queue_length, ParseInteger(replies[1].view(), "XLEN queue"));
  const ReplyView groups = replies[2].view();
  if (groups.is_array()) {  // an error reply when the queue does not exist yet
    for (size_t g = 0; g < groups.size(); ++g) {
      LS_ASSIGN_OR_RETURN(auto info, ParseHash(groups[g], "XINFO GROUPS"));
      if (info["name"] != Schema::kGroup) continue;
      // Numeric fields come back as integers; ParseHash read them as "" then: re-read by index.
      for (size_t i = 0; i + 1 < groups[g].size(); i += 2) {
        const std::string_view key = groups[g][i].str();
        const ReplyView val = groups[g][i + 1];
        auto n = ParseInteger(val, "XINFO GROUPS");
        if (!n.ok()) continue;
        if (key == "pending") s.pending = *n;
        if (key == "consumers") s.consumers = *n;
      }
    }
  }
  // Acknowledged entries are deleted, so what is in the stream and not pending was never delivered.
  // (Redis's own "lag" field cannot be computed once entries are deleted.)
  s.lag = std::max<int64_t>(0, s.queue_length - s.pending);
  LS_ASSIGN_OR_RETURN(auto oldest, ParseEntries(replies[3].view(), "XRANGE queue"));
  LS_ASSIGN_OR_RETURN(s.dead_letters, ParseInteger(replies[4].view(), "XLEN deadletter"));
  if (!oldest.empty() && replies[5].size() == 2) {
    const auto id = ParseStreamId(oldest[0].id);
    LS_ASSIGN_OR_RETURN(int64_t now_s, ParseInteger(replies[5][0], "TIME"));
    LS_ASSIGN_OR_RETURN(int64_t now_us, ParseInteger(replies[5][1], "TIME"));
    if (id) s.oldest_age_s = std::max(0.0, static_cast<double>(now_s) + now_us / 1e6 - static_cast<double>(id->first) / 1e3);
  }
  LS_ASSIGN_OR_RETURN(auto inflight, ParseHash(replies[6].view(), "HGETALL inflight"));
  for (const auto& [tenant, n] : inflight) s.inflight[tenant] = std::strtoll(n.c_str(), nullptr, 10);
  return s;
}

}  // namespace landscape::redis
