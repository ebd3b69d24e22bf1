// The one mapping from core::Status to an HTTP answer, next to grpc_status.h's
// mapping to gRPC: the status code and a JSON body
// {"error": {"code": "NOT_FOUND", "message": "...", "field": "grid.x"}}.
#pragma once

#include <string>

#include "landscape/core/status.h"

namespace landscape::server {

struct HttpError {
  int status = 500;  // HTTP status code
  std::string body;  // the JSON body (application/json)
};

/// An error status to its HTTP code (INVALID_ARGUMENT 400, UNAUTHENTICATED 401,
/// PERMISSION_DENIED 403, NOT_FOUND 404, ALREADY_EXISTS/ABORTED 409,
/// FAILED_PRECONDITION 412, RESOURCE_EXHAUSTED 429, CANCELLED 499,
/// UNIMPLEMENTED 501, UNAVAILABLE 503, DEADLINE_EXCEEDED 504, others 500).
/// `s` must not be OK.
HttpError ToHttpError(const core::Status& s);

/// The JSON error body for a status code the HTTP layer decides itself (a bad
/// route, a too long URI): `code` is the gRPC-style name ("NOT_FOUND").
std::string HttpErrorBody(const std::string& code, const std::string& message, const std::string& field = {});

}  // namespace landscape::server
