// A job of the service: its state machine, its record and its events, as
// plain C++ types shared by the server, the worker and the Redis schema.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "landscape/core/spec.h"
#include "landscape/core/status.h"

namespace landscape::core {

/// QUEUED -> PREPARING -> RUNNING -> SUCCEEDED; any non-final state may go to
/// FAILED or CANCELLED. The last three are final: nothing changes afterwards.
enum class JobState { kQueued, kPreparing, kRunning, kSucceeded, kFailed, kCancelled };

const char* Name(JobState s);  // "QUEUED", ... (the Redis and log spelling)
Result<JobState> ParseJobState(std::string_view s);
bool IsFinal(JobState s);

/// A job as stored: spec, state and progress.
struct JobRecord {
  std::string id;
  std::string tenant;
  std::string request_id;
  JobState state = JobState::kQueued;
  JobSpec spec;
  std::string error;        // FAILED: the reason
  std::string error_field;  // FAILED: the spec field the reason is about
  int64_t created_ms = 0;   // Unix time, milliseconds; 0 = not yet
  int64_t started_ms = 0;   // entered RUNNING
  int64_t ended_ms = 0;     // entered a final state
  int64_t points_total = 0;
  int64_t points_done = 0;
  int64_t tiles_total = 0;  // 0 until RUNNING
  int64_t tiles_done = 0;
  int64_t tile_size = 0;
  int priority = 0;          // within its tenant, higher first ([-100, 100])
  std::string dir_artifact;  // the prepared direction file, a ref ("artifact:<sha256>" or "file://...")
  std::string proj_artifact;  // PCA jobs: the checkpoints' projection file, a ref; "" otherwise
  /// Set when prepared: what the surface file says of the computation (PreparedFiles::attributes).
  std::map<std::string, std::string> attributes;

  /// Points per second since the job started running (0 before).
  double Rate(int64_t now_ms) const;
};

/// One entry of a job's event stream.
struct JobEvent {
  enum class Type { kState, kTile };
  std::string cursor;  // the stream entry id: pass it back to resume after this event
  Type type = Type::kState;
  int64_t time_ms = 0;
  // kState
  JobState state = JobState::kQueued;
  std::string message;
  std::string field;
  // kTile: flat points [begin, end), values metric-major (metric m, point i at m * (end - begin) + i)
  int64_t tile = 0, begin = 0, end = 0;
  std::vector<double> values;
  // Progress after this event.
  int64_t points_done = 0, points_total = 0, tiles_done = 0, tiles_total = 0;
  int64_t running_ms = 0;  // time since the job started running, at this event (0 before)
};

/// Tile values as bytes: IEEE-754 doubles, little-endian, in order. Exact
/// (bit for bit) in both directions.
std::string EncodeValues(const std::vector<double>& values);
/// Decodes EncodeValues; `expected` values (DataLoss when the size differs).
Result<std::vector<double>> DecodeValues(std::string_view bytes, size_t expected);

/// A fresh random identifier of `hex_chars` lower-case hex characters (job ids, upload ids).
std::string RandomId(size_t hex_chars = 16);

/// "jobs/{id}" <-> id. Accepts a bare id too; ids are [A-Za-z0-9_-]{1,64}.
std::string JobName(const std::string& id);
Result<std::string> JobIdFromName(std::string_view name);

}  // namespace landscape::core
