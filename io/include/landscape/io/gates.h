// CI gates over the summary's scalars: `--fail-if max_loss_increase@0.5>0.3`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "landscape/core/status.h"
#include "landscape/io/summary.h"

namespace landscape::io {

struct Gate {
  enum class Op { kGt, kGe, kLt, kLe, kEq, kNe };
  std::string text;    // as given
  std::string scalar;  // canonical scalar name (the number after '@' as ScalarNumber writes it)
  Op op = Op::kGt;
  double threshold = 0;
};

const char* OpText(Gate::Op op);

/// Parses "NAME OP NUMBER" strictly: NAME is [A-Za-z_][A-Za-z0-9_.]* with an
/// optional "@NUMBER" suffix; OP is one of > >= < <= == !=; NUMBER is a finite
/// decimal (strtod syntax, nothing after it). Blanks around the parts are
/// allowed. Anything else is InvalidArgument naming --fail-if.
core::Result<Gate> ParseGate(std::string_view text);

/// The radii and epsilons the gates' scalars need, added to `opts` so that
/// SummaryScalars computes e.g. max_loss_increase@0.3 when a gate asks for it.
void AddGateSharpness(const std::vector<Gate>& gates, SharpnessOptions* opts);

struct GateResult {
  Gate gate;
  double value = 0;
  bool crossed = false;  // the expression is true: the gate fails the job
};

/// Evaluates a gate. A scalar the surface does not have, or has no value for
/// (e.g. the centre point is missing), is InvalidArgument: a gate that cannot
/// be evaluated is a usage error, not a pass.
core::Result<GateResult> EvaluateGate(const Gate& gate, const Scalars& scalars);

}  // namespace landscape::io
