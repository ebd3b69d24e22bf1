#include "auth.h"

#include <cctype>
#include <fstream>
#include <sstream>

namespace landscape::server {

using core::Status;
using core::StatusCode;

TokenAuth TokenAuth::Open() { return TokenAuth(); }

core::Result<TokenAuth> TokenAuth::FromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return core::InvalidArgument("--tokens", "cannot read the tokens file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return FromText(ss.str(), path);
}

core::Result<TokenAuth> TokenAuth::FromText(const std::string& text, const std::string& origin) {
  TokenAuth a;
  a.open_ = false;
  std::istringstream lines(text);
  std::string line;
  for (int n = 1; std::getline(lines, line); ++n) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string token, tenant, extra;
    if (!(words >> token)) continue;
    const std::string where = origin + ":" + std::to_string(n);
    if (!(words >> tenant) || (words >> extra)) {
      return core::InvalidArgument("--tokens", where + ": expected 'TOKEN TENANT'");
    }
    for (char c : tenant) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
        return core::InvalidArgument("--tokens", where + ": tenant names use letters, digits, '-', '_' and '.'");
      }
    }
    if (token.size() < 8) return core::InvalidArgument("--tokens", where + ": tokens need at least 8 characters");
    if (!a.tenants_.emplace(token, tenant).second) {
      return core::InvalidArgument("--tokens", where + ": the same token is listed twice");
    }
  }
  if (a.tenants_.empty()) return core::InvalidArgument("--tokens", origin + " lists no token");
  return a;
}

core::Result<std::string> TokenAuth::Authenticate(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const {
  if (open_) return std::string("default");
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return Status(StatusCode::kUnauthenticated, "missing 'authorization: Bearer <token>' (use --token or LANDSCAPE_TOKEN)");
  }
  const std::string value(it->second.data(), it->second.size());
  const std::string prefix = "Bearer ";
  if (value.rfind(prefix, 0) != 0) {
    return Status(StatusCode::kUnauthenticated, "the authorization header must be 'Bearer <token>'");
  }
  auto t = tenants_.find(value.substr(prefix.size()));
  if (t == tenants_.end()) return Status(StatusCode::kUnauthenticated, "unknown token");
  return t->second;
}

}  // namespace landscape::server
