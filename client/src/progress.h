// The CLI's progress reporting for long computations: a redrawn bar with rate and ETA on
// a terminal, plain key=value lines at an interval otherwise (logs, CI). The
// rate and ETA count only what this reporter saw done (none before the first
// item); with TERM=dumb or NO_COLOR set, no escape sequence is written.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace landscape::client {

struct ProgressOptions {
  enum class Style { kAuto, kBar, kLines, kQuiet };
  Style style = Style::kAuto;       // kAuto: a bar when the stream is a terminal
  double line_interval_s = 5.0;     // kLines: at most one line per interval
  double bar_interval_s = 0.1;      // kBar: redraw at most this often
  std::string unit = "pt";          // what is being counted
  std::string label;                // printed before the bar / in each line
};

/// The style a `--progress auto|bar|lines|quiet` flag names (anything else: auto), labelled "landscape".
ProgressOptions ProgressFlag(const std::string& progress);

/// Formats seconds as H:MM:SS or M:SS.
std::string FormatDuration(double seconds);

class ProgressReporter {
 public:
  /// `total` items, `already_done` of them finished before this run (resume);
  /// the rate counts only items done by this run.
  ProgressReporter(int64_t total, int64_t already_done, FILE* out = stderr, ProgressOptions opts = {});

  /// Reports that `done` items (including already_done) are finished.
  /// `detail` (e.g. "loss=0.31") is shown at the end of the line.
  void Update(int64_t done, const std::string& detail = {});
  /// Prints the final state (always, whatever the interval).
  void Finish(const std::string& detail = {});

  double Rate() const;  // items per second in this run
  double ElapsedSeconds() const;

 private:
  void Print(bool final, const std::string& detail);

  int64_t total_;
  int64_t start_done_;
  int64_t done_;
  FILE* out_;
  ProgressOptions opts_;
  bool bar_;
  bool plain_ = false;   // TERM=dumb or NO_COLOR: redraw with '\r' and spaces, never an escape sequence
  size_t last_len_ = 0;  // of the last bar drawn
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_print_;
};

}  // namespace landscape::client
