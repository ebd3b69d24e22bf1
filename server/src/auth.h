// Bearer-token authentication. A tokens file lists one "TOKEN TENANT" pair a
// line ('#' starts a comment); each tenant sees only its own jobs. Without a
// tokens file every caller is the tenant "default".
#pragma once

#include <map>
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

 private:
  bool open_ = true;
  std::vector<std::pair<std::string, std::string>> tenants_;  // (SecretDigest(token), tenant)
};

}  // namespace landscape::server
