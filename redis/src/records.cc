#include "landscape/redis/records.h"

#include <algorithm>

namespace landscape::redis {

namespace {

Result<int64_t> IntField(const std::map<std::string, std::string>& h, const char* name) {
  auto it = h.find(name);
  if (it == h.end()) return int64_t{0};
  return ParseStoredInt(it->second, std::string("job record field ") + name, 0);
}

const std::string& StrField(const std::map<std::string, std::string>& h, const char* name) {
  static const std::string kEmpty;
  auto it = h.find(name);
  return it == h.end() ? kEmpty : it->second;
}

Result<int64_t> EntryInt(const StreamEntry& e, const char* name) {
  return ParseStoredInt(e.Get(name), "job event " + e.id + " field " + name, 0);
}

}  // namespace

Result<core::JobRecord> ParseJobRecord(const std::map<std::string, std::string>& h) {
  core::JobRecord r;
  r.id = StrField(h, "id");
  if (r.id.empty()) return core::DataLoss("job record without an id");
  r.tenant = StrField(h, "tenant");
  r.request_id = StrField(h, "request_id");
  auto state = core::ParseJobState(StrField(h, "state"));
  if (!state.ok()) return core::DataLoss("job " + r.id + ": " + state.status().message());
  r.state = *state;
  auto spec = core::SpecFromJson(StrField(h, "spec"));
  if (!spec.ok()) return core::DataLoss("job " + r.id + ": stored spec: " + spec.status().ToString());
  r.spec = std::move(*spec);
  r.error = StrField(h, "error");
  r.error_field = StrField(h, "error_field");
  LS_ASSIGN_OR_RETURN(r.created_ms, IntField(h, "created_ms"));
  LS_ASSIGN_OR_RETURN(r.started_ms, IntField(h, "started_ms"));
  LS_ASSIGN_OR_RETURN(r.ended_ms, IntField(h, "ended_ms"));
  LS_ASSIGN_OR_RETURN(r.points_total, IntField(h, "points_total"));
  LS_ASSIGN_OR_RETURN(r.points_done, IntField(h, "points_done"));
  LS_ASSIGN_OR_RETURN(r.tiles_total, IntField(h, "tiles_total"));
  LS_ASSIGN_OR_RETURN(r.tiles_done, IntField(h, "tiles_done"));
  LS_ASSIGN_OR_RETURN(r.tile_size, IntField(h, "tile_size"));
  if (auto it = h.find("priority"); it != h.end()) {
    LS_ASSIGN_OR_RETURN(int64_t priority, ParseStoredInt(it->second, "job record field priority", 0));
    r.priority = static_cast<int>(std::clamp<int64_t>(priority, -100, 100));
  }
  r.dir_artifact = StrField(h, "dir_artifact");
  r.proj_artifact = StrField(h, "proj_artifact");
  for (const auto& [k, v] : h) {
    if (k.rfind("attr:", 0) == 0) r.attributes[k.substr(5)] = v;
  }
  return r;
}

Result<core::JobRecord> LoadJobRecord(Connection& c, const Schema& schema, const std::string& id) {
  LS_ASSIGN_OR_RETURN(Reply reply, c.Command({"HGETALL", schema.Job(id)}));
  LS_ASSIGN_OR_RETURN(auto hash, ParseHash(reply.view(), "HGETALL job"));
  if (hash.empty()) return core::NotFound("job " + core::JobName(id) + " not found (unknown, or expired)");
  return ParseJobRecord(hash);
}

Result<core::JobEvent> ParseJobEvent(const StreamEntry& e, size_t metric_count) {
  core::JobEvent ev;
  ev.cursor = e.id;
  LS_ASSIGN_OR_RETURN(ev.time_ms, EntryInt(e, "ts"));
  LS_ASSIGN_OR_RETURN(ev.points_done, EntryInt(e, "done"));
  LS_ASSIGN_OR_RETURN(ev.points_total, EntryInt(e, "total"));
  LS_ASSIGN_OR_RETURN(ev.tiles_done, EntryInt(e, "tdone"));
  LS_ASSIGN_OR_RETURN(ev.tiles_total, EntryInt(e, "ttotal"));
  LS_ASSIGN_OR_RETURN(ev.running_ms, EntryInt(e, "running_ms"));
  const std::string& type = e.Get("type");
  if (type == "state") {
    ev.type = core::JobEvent::Type::kState;
    auto s = core::ParseJobState(e.Get("state"));
    if (!s.ok()) return core::DataLoss("job event " + e.id + ": " + s.status().message());
    ev.state = *s;
    ev.message = e.Get("message");
    ev.field = e.Get("field");
  } else if (type == "tile") {
    ev.type = core::JobEvent::Type::kTile;
    LS_ASSIGN_OR_RETURN(ev.tile, EntryInt(e, "tile"));
    LS_ASSIGN_OR_RETURN(ev.begin, EntryInt(e, "begin"));
    LS_ASSIGN_OR_RETURN(ev.end, EntryInt(e, "end"));
    if (ev.end < ev.begin) return core::DataLoss("job event " + e.id + ": end < begin");
    LS_ASSIGN_OR_RETURN(ev.values, core::DecodeValues(e.Get("values"),
                                                      static_cast<size_t>(ev.end - ev.begin) * metric_count));
  } else {
    return core::DataLoss("job event " + e.id + ": unknown type '" + type + "'");
  }
  return ev;
}

}  // namespace landscape::redis
