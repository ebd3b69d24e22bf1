#include "landscape/io/gates.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace landscape::io {

namespace {

core::Status Bad(std::string_view text, const std::string& why) {
  return core::InvalidArgument("--fail-if", "cannot parse gate '" + std::string(text) + "': " + why +
                                                " (expected NAME OP NUMBER, e.g. max_loss_increase@0.5>0.3)");
}

// A whole string as a finite number, or nullopt.
std::optional<double> ParseNumber(std::string_view s) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s.front()))) return std::nullopt;
  const std::string str(s);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(str.c_str(), &end);
  if (errno != 0 || end != str.c_str() + str.size() || !std::isfinite(v)) return std::nullopt;
  // strtod also takes hex floats and "infinity"; gates are plain decimals.
  for (char c : str) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) {
      return std::nullopt;
    }
  }
  return v;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'; }

// "name@number" -> the number, when the name has one.
std::optional<double> AtNumber(const std::string& scalar) {
  const size_t at = scalar.find('@');
  if (at == std::string::npos) return std::nullopt;
  return ParseNumber(scalar.substr(at + 1));
}

}  // namespace

const char* OpText(Gate::Op op) {
  switch (op) {
    case Gate::Op::kGt: return ">";
    case Gate::Op::kGe: return ">=";
    case Gate::Op::kLt: return "<";
    case Gate::Op::kLe: return "<=";
    case Gate::Op::kEq: return "==";
    case Gate::Op::kNe: return "!=";
  }
  return "?";
}

core::Result<Gate> ParseGate(std::string_view text) {
  Gate g;
  g.text = std::string(text);
  std::string_view s = Trim(text);
  if (s.empty()) return Bad(text, "empty");
  // NAME
  size_t i = 0;
  if (!IsNameStart(s[0])) return Bad(text, "a scalar name must start with a letter or '_'");
  while (i < s.size() && IsNameChar(s[i])) ++i;
  std::string name(s.substr(0, i));
  if (name.back() == '.') return Bad(text, "the scalar name ends with '.'");
  if (i < s.size() && s[i] == '@') {
    size_t j = i + 1;
    while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.' || s[j] == 'e' ||
                            s[j] == 'E' || ((s[j] == '-' || s[j] == '+') && (s[j - 1] == 'e' || s[j - 1] == 'E')))) {
      ++j;
    }
    auto r = ParseNumber(s.substr(i + 1, j - i - 1));
    if (!r || *r < 0) return Bad(text, "'@' must be followed by a non-negative number");
    name += "@" + ScalarNumber(*r);
    i = j;
  }
  g.scalar = name;
  // OP
  std::string_view rest = Trim(s.substr(i));
  static const std::pair<const char*, Gate::Op> kOps[] = {{">=", Gate::Op::kGe}, {"<=", Gate::Op::kLe},
                                                          {"==", Gate::Op::kEq}, {"!=", Gate::Op::kNe},
                                                          {">", Gate::Op::kGt},  {"<", Gate::Op::kLt}};
  bool found = false;
  for (const auto& [op_text, op] : kOps) {
    const std::string_view t(op_text);
    if (rest.substr(0, t.size()) == t) {
      g.op = op;
      rest.remove_prefix(t.size());
      found = true;
      break;
    }
  }
  if (!found) return Bad(text, "no comparison operator (one of > >= < <= == !=) after '" + name + "'");
  // NUMBER
  rest = Trim(rest);
  auto v = ParseNumber(rest);
  if (!v) return Bad(text, "'" + std::string(rest) + "' is not a finite number");
  g.threshold = *v;
  return g;
}

void AddGateSharpness(const std::vector<Gate>& gates, SharpnessOptions* opts) {
  auto add = [](std::vector<double>* list, double v) {
    if (std::find(list->begin(), list->end(), v) == list->end()) list->push_back(v);
  };
  for (const Gate& g : gates) {
    const auto at = AtNumber(g.scalar);
    if (!at) continue;
    if (g.scalar.find("increase@") != std::string::npos) add(&opts->radii, *at);
    if (g.scalar.find("basin_") != std::string::npos) add(&opts->basin_epsilons, *at);
  }
}

core::Result<GateResult> EvaluateGate(const Gate& gate, const Scalars& scalars) {
  auto it = scalars.find(gate.scalar);
  if (it == scalars.end()) {
    // Name the families, not every scalar: "points, nan, ..., <metric>.min ... for train_loss, test_acc".
    std::string plain, metrics;
    for (const auto& [k, v] : scalars) {
      const size_t dot = k.find('.');
      if (dot == std::string::npos && k.find('@') == std::string::npos) plain += (plain.empty() ? "" : ", ") + k;
      if (k.size() > 4 && k.compare(k.size() - 4, 4, ".min") == 0) {
        metrics += (metrics.empty() ? "" : ", ") + k.substr(0, k.size() - 4);
      }
    }
    return core::InvalidArgument(
        "--fail-if", "gate '" + gate.text + "': this surface has no scalar '" + gate.scalar + "' (known: " + plain +
                         "; max_loss_increase@R, mean_loss_increase@R, basin_area@E, basin_fraction@E; and "
                         "M.min, M.max, M.centre, M.nan, M.min_x, M.max_x (and _y), L.max_increase@R, "
                         "L.mean_increase@R, L.basin_area@E, L.basin_fraction@E for M in " +
                         metrics + ", L the losses among them)");
  }
  if (!it->second) {
    return core::InvalidArgument("--fail-if", "gate '" + gate.text + "': scalar '" + gate.scalar +
                                                  "' has no value for this surface (a missing or non-finite centre, "
                                                  "or no finite point in range)");
  }
  GateResult r;
  r.gate = gate;
  r.value = *it->second;
  switch (gate.op) {
    case Gate::Op::kGt: r.crossed = r.value > gate.threshold; break;
    case Gate::Op::kGe: r.crossed = r.value >= gate.threshold; break;
    case Gate::Op::kLt: r.crossed = r.value < gate.threshold; break;
    case Gate::Op::kLe: r.crossed = r.value <= gate.threshold; break;
    case Gate::Op::kEq: r.crossed = r.value == gate.threshold; break;
    case Gate::Op::kNe: r.crossed = r.value != gate.threshold; break;
  }
  return r;
}

}  // namespace landscape::io
