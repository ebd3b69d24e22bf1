// Job records and events as stored in Redis (see schema.h), to and from the
// core types. Shared by the job store (server) and the tile queue (worker).
#pragma once

#include <map>
#include <string>

#include "landscape/core/job.h"
#include "landscape/redis/connection.h"
#include "landscape/redis/reply.h"
#include "landscape/redis/schema.h"

namespace landscape::redis {

/// A job hash (HGETALL) as a record; DataLoss when a field is malformed.
Result<core::JobRecord> ParseJobRecord(const std::map<std::string, std::string>& hash);
/// Reads {p}job:{id}; NotFound when it does not exist (never did, or expired).
Result<core::JobRecord> LoadJobRecord(Connection& c, const Schema& schema, const std::string& id);
/// One entry of {p}job:{id}:events; tile values are decoded for `metric_count` metrics.
Result<core::JobEvent> ParseJobEvent(const StreamEntry& entry, size_t metric_count);

}  // namespace landscape::redis
