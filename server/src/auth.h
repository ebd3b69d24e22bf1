// Bearer-token authentication. A tokens file lists one "TOKEN TENANT" pair a
// line ('#' starts a comment); each tenant sees only its own jobs. Without a
// tokens file every caller is the tenant "default". A line may go on with the
// tenant's scheduling policy as KEY=VALUE words (docs/service.md, Quotas):
//   weight=2 max_jobs=10 max_queued_points=100000 max_tiles_in_flight=4
// Lines of the same tenant must not disagree on a key.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <grpcpp/support/string_ref.h>

#include "landscape/core/status.h"

namespace landscape::server {

/// Equality of two strings whose time depends only on their lengths, never on where they differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

/// A secret as compared: its sha256 (hex), so every comparison is of 64 characters whatever
/// the secret's length.
std::string SecretDigest(std::string_view secret);

/// Reads a secret given as a file (its first line, trimmed) or, when `value` names no
/// readable file, as the value itself. Errors name `flag`; secrets need 8 characters.
core::Result<std::string> ReadSecret(const std::string& value, const std::string& flag);

/// What the tokens file says of a tenant's scheduling; unset: the server's default (its flags).
struct TenantPolicy {
  std::optional<double> weight;                // > 0: share of the workers across tenants
  std::optional<int64_t> max_jobs;             // >= 0 (0: none): active jobs
  std::optional<int64_t> max_queued_points;    // points of active jobs not yet done
  std::optional<int64_t> max_tiles_in_flight;  // tiles being computed at once
};

class TokenAuth {
 public:
  /// Accepts every caller as "default".
  static TokenAuth Open();
  /// Reads a tokens file; errors name the line.
  static core::Result<TokenAuth> FromFile(const std::string& path);
  static core::Result<TokenAuth> FromText(const std::string& text, const std::string& origin);

  /// The caller's tenant from its "authorization: Bearer TOKEN" metadata;
  /// kUnauthenticated when missing or unknown. Constant time in the token:
  /// the token's digest is compared with every entry's, all of them, in
  /// constant time; no lookup is keyed by the secret.
  core::Result<std::string> Authenticate(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const;
  /// The same from an HTTP "Authorization" header's value (nullptr: no header).
  core::Result<std::string> AuthenticateHeader(const std::string* authorization) const;
  size_t size() const { return tenants_.size(); }
  /// The policies the tokens file gives, by tenant (tenants without any are absent).
  const std::map<std::string, TenantPolicy>& policies() const { return policies_; }

 private:
  bool open_ = true;
  std::map<std::string, TenantPolicy> policies_;
  std::vector<std::pair<std::string, std::string>> tenants_;  // (SecretDigest(token), tenant)
};

}  // namespace landscape::server
