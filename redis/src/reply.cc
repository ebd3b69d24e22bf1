#include "landscape/redis/reply.h"

#include <cerrno>
#include <cstdlib>

namespace landscape::redis {

namespace {
Status Unexpected(ReplyView r, const std::string& what, const char* expected) {
  if (r.is_error()) return ReplyErrorStatus(r, what);
  return core::Internal("redis: " + what + ": expected " + expected + ", got " + r.Describe());
}
}  // namespace

Status CheckReply(ReplyView r, const std::string& what) {
  if (r.is_error()) return ReplyErrorStatus(r, what);
  return Status::Ok();
}

Result<std::string> ParseString(ReplyView r, const std::string& what) {
  if (!r.is_string()) return Unexpected(r, what, "a string");
  return std::string(r.str());
}

Result<std::optional<std::string>> ParseOptionalString(ReplyView r, const std::string& what) {
  if (r.is_nil()) return std::optional<std::string>();
  if (!r.is_string()) return Unexpected(r, what, "a string or nil");
  return std::optional<std::string>(std::string(r.str()));
}

Result<int64_t> ParseStoredInt(const std::string& text, const std::string& what, std::optional<int64_t> if_empty) {
  if (text.empty() && if_empty) return *if_empty;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE) {
    return core::DataLoss("redis: " + what + ": '" + text + "' is not an integer");
  }
  return static_cast<int64_t>(v);
}

Result<int64_t> ParseInteger(ReplyView r, const std::string& what) {
  if (r.is_integer()) return static_cast<int64_t>(r.integer());
  if (r.is_string()) {
    auto v = ParseStoredInt(std::string(r.str()), what);
    if (v.ok()) return v;
  }
  return Unexpected(r, what, "an integer");
}

Result<std::map<std::string, std::string>> ParseHash(ReplyView r, const std::string& what) {
  if (!r.is_array() || r.size() % 2 != 0) return Unexpected(r, what, "a field/value array");
  std::map<std::string, std::string> out;
  for (size_t i = 0; i + 1 < r.size(); i += 2) out.emplace(std::string(r[i].str()), std::string(r[i + 1].str()));
  return out;
}

const std::string& StreamEntry::Get(const std::string& name) const {
  static const std::string kEmpty;
  for (const auto& [k, v] : fields)
    if (k == name) return v;
  return kEmpty;
}

namespace {
Result<StreamEntry> ParseEntry(ReplyView e, const std::string& what) {
  if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_array() || e[1].size() % 2 != 0) {
    return Unexpected(e, what, "a stream entry [id, [field, value, ...]]");
  }
  StreamEntry out;
  out.id = std::string(e[0].str());
  const ReplyView f = e[1];
  out.fields.reserve(f.size() / 2);
  for (size_t i = 0; i + 1 < f.size(); i += 2) out.fields.emplace_back(std::string(f[i].str()), std::string(f[i + 1].str()));
  return out;
}
}  // namespace

Result<std::vector<StreamEntry>> ParseEntries(ReplyView r, const std::string& what) {
  if (!r.is_array()) return Unexpected(r, what, "an array of stream entries");
  std::vector<StreamEntry> out;
  out.reserve(r.size());
  for (size_t i = 0; i < r.size(); ++i) {
    if (r[i].is_nil()) continue;
    LS_ASSIGN_OR_RETURN(StreamEntry e, ParseEntry(r[i], what));
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::vector<StreamEntry>>>> ParseXRead(ReplyView r,
                                                                                  const std::string& what) {
  std::vector<std::pair<std::string, std::vector<StreamEntry>>> out;
  if (r.is_nil()) return out;
  if (!r.is_array()) return Unexpected(r, what, "an array of streams");
  for (size_t i = 0; i < r.size(); ++i) {
    const ReplyView s = r[i];
    if (!s.is_array() || s.size() != 2 || !s[0].is_string()) return Unexpected(s, what, "[key, entries]");
    LS_ASSIGN_OR_RETURN(std::vector<StreamEntry> entries, ParseEntries(s[1], what));
    out.emplace_back(std::string(s[0].str()), std::move(entries));
  }
  return out;
}

Result<AutoClaim> ParseXAutoClaim(ReplyView r, const std::string& what) {
  if (!r.is_array() || r.size() < 2 || !r[0].is_string()) return Unexpected(r, what, "[cursor, entries, deleted]");
  AutoClaim out;
  out.next_cursor = std::string(r[0].str());
  LS_ASSIGN_OR_RETURN(out.entries, ParseEntries(r[1], what));
  return out;
}

Result<std::vector<PendingEntry>> ParsePending(ReplyView r, const std::string& what) {
  if (!r.is_array()) return Unexpected(r, what, "an array of pending entries");
  std::vector<PendingEntry> out;
  for (size_t i = 0; i < r.size(); ++i) {
    const ReplyView p = r[i];
    if (!p.is_array() || p.size() != 4) return Unexpected(p, what, "[id, consumer, idle, deliveries]");
    PendingEntry e;
    e.id = std::string(p[0].str());
    e.consumer = std::string(p[1].str());
    LS_ASSIGN_OR_RETURN(e.idle_ms, ParseInteger(p[2], what));
    LS_ASSIGN_OR_RETURN(e.deliveries, ParseInteger(p[3], what));
    out.push_back(std::move(e));
  }
  return out;
}

std::optional<std::pair<uint64_t, uint64_t>> ParseStreamId(const std::string& id) {
  const auto dash = id.find('-');
  if (id.empty() || dash == 0 || dash == std::string::npos || dash + 1 == id.size()) return std::nullopt;
  char* end = nullptr;
  const std::string ms = id.substr(0, dash), seq = id.substr(dash + 1);
  for (char c : ms + seq)
    if (c < '0' || c > '9') return std::nullopt;
  const uint64_t a = std::strtoull(ms.c_str(), &end, 10);
  const uint64_t b = std::strtoull(seq.c_str(), &end, 10);
  return std::make_pair(a, b);
}

bool StreamIdLess(const std::string& a, const std::string& b) {
  const auto pa = ParseStreamId(a), pb = ParseStreamId(b);
  if (!pa || !pb) return !pa && pb.has_value();
  return *pa < *pb;
}

}  // namespace landscape::redis
