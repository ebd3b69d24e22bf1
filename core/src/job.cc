#include "landscape/core/job.h"

#include <array>
#include <cctype>
#include <cstring>
#include <mutex>
#include <random>

namespace landscape::core {

namespace {
constexpr std::array<std::pair<JobState, const char*>, 6> kStates{{{JobState::kQueued, "QUEUED"},
                                                                   {JobState::kPreparing, "PREPARING"},
                                                                   {JobState::kRunning, "RUNNING"},
                                                                   {JobState::kSucceeded, "SUCCEEDED"},
                                                                   {JobState::kFailed, "FAILED"},
                                                                   {JobState::kCancelled, "CANCELLED"}}};
}  // namespace

const char* Name(JobState s) {
  for (const auto& [v, n] : kStates)
    if (v == s) return n;
  return "?";
}

Result<JobState> ParseJobState(std::string_view s) {
  for (const auto& [v, n] : kStates)
    if (s == n) return v;
  return InvalidArgument("state", "unknown job state '" + std::string(s) + "'");
}

bool IsFinal(JobState s) {
  return s == JobState::kSucceeded || s == JobState::kFailed || s == JobState::kCancelled;
}

double JobRecord::Rate(int64_t now_ms) const {
  if (started_ms <= 0) return 0;
  const int64_t until = ended_ms > 0 ? ended_ms : now_ms;
  const double seconds = static_cast<double>(until - started_ms) / 1000.0;
  return seconds > 0 ? static_cast<double>(points_done) / seconds : 0;
}

std::string EncodeValues(const std::vector<double>& values) {
  std::string out(values.size() * 8, '\0');
  for (size_t i = 0; i < values.size(); ++i) {
    uint64_t bits;
    std::memcpy(&bits, &values[i], 8);
    for (int b = 0; b < 8; ++b) out[i * 8 + static_cast<size_t>(b)] = static_cast<char>((bits >> (8 * b)) & 0xff);
  }
  return out;
}

Result<std::vector<double>> DecodeValues(std::string_view bytes, size_t expected) {
  if (bytes.size() != expected * 8) {
    return DataLoss("stored tile values have " + std::to_string(bytes.size()) + " bytes, expected " +
                    std::to_string(expected * 8));
  }
  std::vector<double> out(expected);
  for (size_t i = 0; i < expected; ++i) {
    uint64_t bits = 0;
    for (int b = 0; b < 8; ++b) {
      bits |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[i * 8 + static_cast<size_t>(b)])) << (8 * b);
    }
    std::memcpy(&out[i], &bits, 8);
  }
  return out;
}

std::string RandomId(size_t hex_chars) {
  static std::mutex mu;
  static std::mt19937_64 gen{[] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }()};
  static const char* kHex = "0123456789abcdef";
  std::string out(hex_chars, '0');
  std::lock_guard<std::mutex> lock(mu);
  for (auto& c : out) c = kHex[gen() & 0xf];
  return out;
}

std::string JobName(const std::string& id) { return "jobs/" + id; }

Result<std::string> JobIdFromName(std::string_view name) {
  std::string_view id = name;
  if (id.substr(0, 5) == "jobs/") id.remove_prefix(5);
  bool ok = !id.empty() && id.size() <= 64;
  for (char c : id) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
  if (!ok) return InvalidArgument("name", "expected jobs/{id}, got '" + std::string(name) + "'");
  return std::string(id);
}

}  // namespace landscape::core
