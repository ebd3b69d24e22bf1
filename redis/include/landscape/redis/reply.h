// Typed parsing of Redis replies: every shape landscape reads, in one place.
// Each parser returns kInternal naming `what` when the reply has another shape.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "landscape/redis/connection.h"

namespace landscape::redis {

/// OK for a non-error reply; the error reply as a Status otherwise.
Status CheckReply(ReplyView r, const std::string& what);
/// A bulk or status string.
Result<std::string> ParseString(ReplyView r, const std::string& what);
/// A bulk string, or nullopt for nil.
Result<std::optional<std::string>> ParseOptionalString(ReplyView r, const std::string& what);
/// An integer reply, or a string holding a decimal integer.
Result<int64_t> ParseInteger(ReplyView r, const std::string& what);
/// A decimal integer stored as text (a hash field, a stream entry field).
/// Empty text gives `if_empty` when set; anything else not an integer is
/// kDataLoss naming `what`.
Result<int64_t> ParseStoredInt(const std::string& text, const std::string& what,
                               std::optional<int64_t> if_empty = std::nullopt);
/// HGETALL's flat [field, value, ...] array.
Result<std::map<std::string, std::string>> ParseHash(ReplyView r, const std::string& what);

/// One entry of a stream.
struct StreamEntry {
  std::string id;
  std::vector<std::pair<std::string, std::string>> fields;
  /// The value of `name`, or "" when absent.
  const std::string& Get(const std::string& name) const;
};
/// [[id, [field, value, ...]], ...] (XRANGE, XCLAIM); nil elements (deleted entries) are skipped.
Result<std::vector<StreamEntry>> ParseEntries(ReplyView r, const std::string& what);
/// XREAD / XREADGROUP: [[key, entries], ...]; nil (timed out) gives an empty list.
Result<std::vector<std::pair<std::string, std::vector<StreamEntry>>>> ParseXRead(ReplyView r,
                                                                                  const std::string& what);

/// XAUTOCLAIM (Redis 7): [next_cursor, entries, deleted_ids].
struct AutoClaim {
  std::string next_cursor;
  std::vector<StreamEntry> entries;
};
Result<AutoClaim> ParseXAutoClaim(ReplyView r, const std::string& what);

/// XPENDING's extended form: [[id, consumer, idle_ms, deliveries], ...].
struct PendingEntry {
  std::string id;
  std::string consumer;
  int64_t idle_ms = 0;
  int64_t deliveries = 0;
};
Result<std::vector<PendingEntry>> ParsePending(ReplyView r, const std::string& what);

/// A stream entry id "MS-SEQ" as numbers, for ordering. nullopt when malformed.
std::optional<std::pair<uint64_t, uint64_t>> ParseStreamId(const std::string& id);
/// a < b for stream ids (malformed ids order first).
bool StreamIdLess(const std::string& a, const std::string& b);

}  // namespace landscape::redis
