// landscape.v1 messages <-> landscape::core types: the one translation used
// by the server and the client. Unset proto fields (UNSPECIFIED enums, absent
// optionals, zeros) take the defaults of `landscape local`; core -> proto
// always writes explicit values, so a round trip is exact.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "landscape/core/job.h"
#include "landscape/core/spec.h"
#include "landscape/core/status.h"
#include "landscape/v1/landscape.pb.h"

namespace landscape::convert {

namespace v1 = ::landscape::v1;

/// A proto spec as a core spec. Errors (an enum value out of range, a missing
/// grid) name the field ("grid.x", "directions.x.norm"). Does not validate
/// ranges: that is core::ValidateSpec's job.
core::Result<core::JobSpec> SpecFromProto(const v1::JobSpec& p);
void SpecToProto(const core::JobSpec& s, v1::JobSpec* p);

v1::JobState StateToProto(core::JobState s);
/// nullopt for JOB_STATE_UNSPECIFIED (and unknown values).
std::optional<core::JobState> StateFromProto(v1::JobState s);

/// `now_ms` (Unix ms) gives the rate and ETA of a running job.
void JobToProto(const core::JobRecord& r, int64_t now_ms, v1::Job* p);
/// `metric_names`: the job's metrics in file order (spec.MetricNames()).
void EventToProto(const core::JobEvent& e, const std::vector<std::string>& metric_names, v1::JobEvent* p);
/// Values metric-major (metric m, point i at m * (end - begin) + i).
void TileToProto(int64_t tile, int64_t begin, int64_t end, const std::vector<double>& values,
                 const std::vector<std::string>& metric_names, v1::TileResult* p);

void TimestampFromMs(int64_t ms, google::protobuf::Timestamp* t);
int64_t MsFromTimestamp(const google::protobuf::Timestamp& t);

}  // namespace landscape::convert
