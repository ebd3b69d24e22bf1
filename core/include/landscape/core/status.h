// Status and Result<T>: the error currency at every boundary of landscape.
//
// Core, engine and service APIs return Status or Result<T>; exceptions from
// LibTorch, hiredis wrappers and parsers are caught where they enter and turned
// into a Status that says what was being done. A Status may name the input
// field it is about (e.g. "grid.x"), so that the gRPC layer and the CLI can
// report it.
#pragma once

#include <cassert>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <variant>

namespace landscape::core {

/// Error categories. The mapping to gRPC codes and CLI exit codes lives in one
/// place each (server/src/grpc_status.cc, client/src/exit_codes.cc).
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // bad input: a malformed spec, file or flag
  kNotFound,            // a named thing (file, job, artifact) does not exist
  kAlreadyExists,
  kFailedPrecondition,  // valid input that cannot be used now (e.g. data does not fit the model)
  kPermissionDenied,
  kUnauthenticated,
  kResourceExhausted,   // over a configured limit
  kUnavailable,         // a dependency (Redis, server) cannot be reached; retryable
  kDeadlineExceeded,
  kCancelled,
  kAborted,             // lost a race (e.g. a tile claimed by another worker)
  kDataLoss,            // corrupt file or stored state
  kUnimplemented,
  kInternal,
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message, std::string field = {})
      : code_(code), message_(std::move(message)), field_(std::move(field)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  /// The input field this error is about ("grid.x", "--model"), or empty.
  const std::string& field() const { return field_; }

  /// "field: message" (or just the message) — what users read.
  std::string ToString() const;

  /// A copy with `context` prepended to the message: "context: message".
  Status WithContext(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string field_;
};

std::ostream& operator<<(std::ostream& os, const Status& s);

inline Status InvalidArgument(std::string field, std::string message) {
  return Status(StatusCode::kInvalidArgument, std::move(message), std::move(field));
}
inline Status NotFound(std::string message) { return Status(StatusCode::kNotFound, std::move(message)); }
inline Status FailedPrecondition(std::string message) {
  return Status(StatusCode::kFailedPrecondition, std::move(message));
}
inline Status Internal(std::string message) { return Status(StatusCode::kInternal, std::move(message)); }
inline Status DataLoss(std::string message) { return Status(StatusCode::kDataLoss, std::move(message)); }
inline Status Unavailable(std::string message) { return Status(StatusCode::kUnavailable, std::move(message)); }

/// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok() && "Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace landscape::core

#define LANDSCAPE_CONCAT_INNER(a, b) a##b
#define LANDSCAPE_CONCAT(a, b) LANDSCAPE_CONCAT_INNER(a, b)

/// Returns the Status from the enclosing function if `expr` is not OK.
#define LS_RETURN_IF_ERROR(expr)                          \
  do {                                                    \
    ::landscape::core::Status _ls_status = (expr);        \
    if (!_ls_status.ok()) return _ls_status;              \
  } while (0)

/// `LS_ASSIGN_OR_RETURN(auto x, MakeX());` — unwraps a Result or returns its Status.
#define LS_ASSIGN_OR_RETURN(lhs, expr) \
  LS_ASSIGN_OR_RETURN_IMPL(LANDSCAPE_CONCAT(_ls_result_, __LINE__), lhs, expr)
#define LS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
