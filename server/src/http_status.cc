#include "http_status.h"

#include <nlohmann/json.hpp>

namespace landscape::server {

std::string HttpErrorBody(const std::string& code, const std::string& message, const std::string& field) {
  nlohmann::json e = {{"code", code}, {"message", message}, {"field", field}};
  // Invalid UTF-8 in a message (it may quote a request) is replaced, never thrown on.
  return nlohmann::json{{"error", e}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

HttpError ToHttpError(const core::Status& s) {
  using core::StatusCode;
  int http = 500;
  const char* name = "INTERNAL";
  switch (s.code()) {
    case StatusCode::kOk: name = "OK"; http = 200; break;
    case StatusCode::kInvalidArgument: name = "INVALID_ARGUMENT"; http = 400; break;
    case StatusCode::kNotFound: name = "NOT_FOUND"; http = 404; break;
    case StatusCode::kAlreadyExists: name = "ALREADY_EXISTS"; http = 409; break;
    case StatusCode::kFailedPrecondition: name = "FAILED_PRECONDITION"; http = 412; break;
    case StatusCode::kPermissionDenied: name = "PERMISSION_DENIED"; http = 403; break;
    case StatusCode::kUnauthenticated: name = "UNAUTHENTICATED"; http = 401; break;
    case StatusCode::kResourceExhausted: name = "RESOURCE_EXHAUSTED"; http = 429; break;
    case StatusCode::kUnavailable: name = "UNAVAILABLE"; http = 503; break;
    case StatusCode::kDeadlineExceeded: name = "DEADLINE_EXCEEDED"; http = 504; break;
    case StatusCode::kCancelled: name = "CANCELLED"; http = 499; break;
    case StatusCode::kAborted: name = "ABORTED"; http = 409; break;
    case StatusCode::kDataLoss: name = "DATA_LOSS"; http = 500; break;
    case StatusCode::kUnimplemented: name = "UNIMPLEMENTED"; http = 501; break;
    case StatusCode::kInternal: name = "INTERNAL"; http = 500; break;
  }
  return HttpError{http, HttpErrorBody(name, s.message(), s.field())};
}

}  // namespace landscape::server
