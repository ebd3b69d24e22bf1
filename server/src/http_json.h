// JSON forms of the HTTP API's answers (internal to the HTTP layer).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "job_service.h"
#include "landscape/core/job.h"

namespace landscape::server::http {

/// A job: id, name, state, labels, progress (points/tiles), rate (points/s),
/// eta_s (seconds, null when unknown), times (Unix ms), error, grid, metrics, spec.
nlohmann::json JobJson(const core::JobRecord& job, int64_t now_ms);

/// One event: {"type": "state", state, message, field, progress...} or
/// {"type": "tile", tile, begin, end, values: {metric: [...]}, progress...}.
/// Non-finite values are null.
nlohmann::json EventJson(const core::JobEvent& ev, const std::vector<std::string>& metrics);

/// The surface so far: {"job", "axes": {"x": [...], "y": [...]}, "metrics": {name: [value|null per point]},
/// "done": [0|1 per point], "points_done", "complete"}; flat index k = iy * nx + ix (row = y).
core::Result<nlohmann::json> SurfaceJson(JobService* service, const core::JobRecord& job, int64_t now_ms);

/// The surface so far as an HDF5 file in the layout `landscape get --out` writes
/// (io::NewJobSurface, io::SurfaceFileImage): unfinished points hold the reference's
/// sentinels, `point_done` says which are computed, the attribute "partial" is "true"
/// until every point is; dir_file is the job's direction file reference ("artifact:<sha256>").
core::Result<std::string> SurfaceH5(JobService* service, const core::JobRecord& job);

/// The same as CSV: "ix,iy,alpha,beta,<metrics...>" for every finished point, in flat order.
std::string SurfaceCsv(const nlohmann::json& surface);

/// json::dump that replaces invalid UTF-8 instead of throwing.
std::string Dump(const nlohmann::json& j);

}  // namespace landscape::server::http
