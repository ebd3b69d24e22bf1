// Bearer-token authentication. A tokens file lists one "TOKEN TENANT" pair a
// line ('#' starts a comment); each tenant sees only its own jobs. Without a
// tokens file every caller is the tenant "default".
#pragma once

#include <map>
#include <string>

#include <grpcpp/support/string_ref.h>

#include "landscape/core/status.h"

namespace landscape::server {

class TokenAuth {
 public:
  /// Accepts every caller as "default".
  static TokenAuth Open();
  /// Reads a tokens file; errors name the line.
  static core::Result<TokenAuth> FromFile(const std::string& path);
  static core::Result<TokenAuth> FromText(const std::string& text, const std::string& origin);

  /// The caller's tenant from its "authorization: Bearer TOKEN" metadata;
  /// kUnauthenticated when missing or unknown.
  core::Result<std::string> Authenticate(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const;
  size_t size() const { return tenants_.size(); }

 private:
  bool open_ = true;
  std::map<std::string, std::string> tenants_;  // token -> tenant
};

}  // namespace landscape::server
