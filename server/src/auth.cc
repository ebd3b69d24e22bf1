#include "auth.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "landscape/core/sha256.h"

namespace landscape::server {

using core::Status;
using core::StatusCode;

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  // The compiler may not turn the loop into an early exit: diff is read once, after it.
  return *static_cast<volatile unsigned char*>(&diff) == 0;
}

std::string SecretDigest(std::string_view secret) { return core::Sha256Hex(secret); }

core::Result<std::string> ReadSecret(const std::string& value, const std::string& flag) {
  std::string secret = value;
  if (std::ifstream in(value); in) {
    std::getline(in, secret);
  }
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  while (!secret.empty() && !not_space(secret.back())) secret.pop_back();
  secret.erase(secret.begin(), std::find_if(secret.begin(), secret.end(), not_space));
  if (secret.size() < 8) return core::InvalidArgument(flag, "the secret needs at least 8 characters");
  return secret;
}

TokenAuth TokenAuth::Open() { return TokenAuth(); }

namespace {

// Sets `*slot` from "KEY=VALUE" unless another line said otherwise. `where` is "FILE:LINE".
template <typename T>
Status SetOnce(std::optional<T>* slot, T value, const std::string& key, const std::string& where) {
  if (*slot && *slot != value) {
    return core::InvalidArgument("--tokens", where + ": " + key + " differs from an earlier line of the same tenant");
  }
  *slot = value;
  return Status::Ok();
}

// One "KEY=VALUE" word of a tokens-file line into the tenant's policy.
Status ParsePolicyWord(const std::string& word, TenantPolicy* p, const std::string& where) {
  const auto eq = word.find('=');
  const std::string key = word.substr(0, eq == std::string::npos ? 0 : eq);
  const std::string value = eq == std::string::npos ? "" : word.substr(eq + 1);
  const auto bad = [&](const std::string& why) { return core::InvalidArgument("--tokens", where + ": " + why); };
  if (key.empty() || value.empty()) {
    return bad("expected 'TOKEN TENANT [KEY=VALUE ...]', got '" + word + "'");
  }
  char* end = nullptr;
  if (key == "weight") {
    const double w = std::strtod(value.c_str(), &end);
    if (*end != '\0' || !(w > 0) || w > 1e6) return bad("weight must be a number in (0, 1e6]");
    return SetOnce(&p->weight, w, key, where);
  }
  std::optional<int64_t>* slot = key == "max_jobs"              ? &p->max_jobs
                                 : key == "max_queued_points"   ? &p->max_queued_points
                                 : key == "max_tiles_in_flight" ? &p->max_tiles_in_flight
                                                                : nullptr;
  if (slot == nullptr) {
    return bad("unknown key '" + key + "' (weight, max_jobs, max_queued_points, max_tiles_in_flight)");
  }
  const long long n = std::strtoll(value.c_str(), &end, 10);
  if (*end != '\0' || n < 0) return bad(key + " must be a whole number >= 0 (0: no quota)");
  return SetOnce(slot, static_cast<int64_t>(n), key, where);
}

}  // namespace

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
  std::set<std::string> seen;  // digests, for duplicates (at load time only)
  std::istringstream lines(text);
  std::string line;
  for (int n = 1; std::getline(lines, line); ++n) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string token, tenant, extra;
    if (!(words >> token)) continue;
    const std::string where = origin + ":" + std::to_string(n);
    if (!(words >> tenant)) {
      return core::InvalidArgument("--tokens", where + ": expected 'TOKEN TENANT [KEY=VALUE ...]'");
    }
    for (char c : tenant) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
        return core::InvalidArgument("--tokens", where + ": tenant names use letters, digits, '-', '_' and '.'");
      }
    }
    if (token.size() < 8) return core::InvalidArgument("--tokens", where + ": tokens need at least 8 characters");
    std::string digest = SecretDigest(token);
    if (!seen.insert(digest).second) {
      return core::InvalidArgument("--tokens", where + ": the same token is listed twice");
    }
    while (words >> extra) {
      TenantPolicy& policy = a.policies_[tenant];
      LS_RETURN_IF_ERROR(ParsePolicyWord(extra, &policy, where));
    }
    a.tenants_.emplace_back(std::move(digest), tenant);
  }
  if (a.tenants_.empty()) return core::InvalidArgument("--tokens", origin + " lists no token");
  return a;
}

core::Result<std::string> TokenAuth::Authenticate(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const {
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return AuthenticateHeader(nullptr);
  const std::string value(it->second.data(), it->second.size());
  return AuthenticateHeader(&value);
}

core::Result<std::string> TokenAuth::AuthenticateHeader(const std::string* authorization) const {
  if (open_) return std::string("default");
  if (authorization == nullptr) {
    return Status(StatusCode::kUnauthenticated, "missing 'authorization: Bearer <token>' (use --token or LANDSCAPE_TOKEN)");
  }
  const std::string& value = *authorization;
  const std::string prefix = "Bearer ";
  if (value.rfind(prefix, 0) != 0) {
    return Status(StatusCode::kUnauthenticated, "the authorization header must be 'Bearer <token>'");
  }
  const std::string digest = SecretDigest(std::string_view(value).substr(prefix.size()));
  const std::string* found = nullptr;
  for (const auto& [d, tenant] : tenants_) {  // every entry, whatever matched before
    if (ConstantTimeEquals(d, digest)) found = &tenant;
  }
  if (found == nullptr) return Status(StatusCode::kUnauthenticated, "unknown token");
  return *found;
}

}  // namespace landscape::server
