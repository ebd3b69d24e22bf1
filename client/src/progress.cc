#include "progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace landscape::client {

bool PlainTerminal() {
  const char* no_color = std::getenv("NO_COLOR");
  const char* term = std::getenv("TERM");
  return (no_color != nullptr && no_color[0] != '\0') || (term != nullptr && std::strcmp(term, "dumb") == 0);
}

ProgressOptions ProgressFlag(const std::string& progress) {
  ProgressOptions p;
  p.label = "landscape";
  if (progress == "bar") p.style = ProgressOptions::Style::kBar;
  if (progress == "lines") p.style = ProgressOptions::Style::kLines;
  if (progress == "quiet") p.style = ProgressOptions::Style::kQuiet;
  return p;
}

std::string FormatDuration(double s) {
  if (!std::isfinite(s) || s < 0) return "--:--";
  const auto total = static_cast<long long>(std::llround(s));
  char buf[32];
  if (total >= 3600) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", total / 3600, (total / 60) % 60, total % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lld:%02lld", total / 60, total % 60);
  }
  return buf;
}

ProgressReporter::ProgressReporter(int64_t total, int64_t already_done, FILE* out, ProgressOptions opts)
    : total_(total),
      start_done_(already_done),
      done_(already_done),
      out_(out),
      opts_(std::move(opts)),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_ - std::chrono::hours(1)) {
  switch (opts_.style) {
    case ProgressOptions::Style::kAuto: bar_ = out_ && ::isatty(::fileno(out_)); break;
    case ProgressOptions::Style::kBar: bar_ = true; break;
    default: bar_ = false; break;
  }
  plain_ = PlainTerminal();
}

double ProgressReporter::ElapsedSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double ProgressReporter::Rate() const {
  const double t = ElapsedSeconds();
  return t > 0 ? static_cast<double>(done_ - start_done_) / t : 0.0;
}

void ProgressReporter::Update(int64_t done, const std::string& detail) {
  done_ = done;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_print_).count();
  if (since < (bar_ ? opts_.bar_interval_s : opts_.line_interval_s)) return;
  last_print_ = now;
  Print(false, detail);
}

void ProgressReporter::Finish(const std::string& detail) { Print(true, detail); }

void ProgressReporter::Print(bool final, const std::string& detail) {
  if (!out_ || opts_.style == ProgressOptions::Style::kQuiet) return;
  const double rate = Rate();
  const bool live = done_ > start_done_;  // no rate (nor ETA) before this run has done anything
  const double frac = total_ > 0 ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - done_) / rate : NAN;
  const std::string label = opts_.label.empty() ? "" : opts_.label + " ";
  char rate_text[64] = "";
  if (live) std::snprintf(rate_text, sizeof rate_text, "%.3g", rate);
  const std::string when = final ? FormatDuration(ElapsedSeconds()) : FormatDuration(eta);
  char line[512];
  if (bar_) {
    constexpr int kWidth = 28;
    const int fill = static_cast<int>(std::floor(frac * kWidth));
    std::string bar(static_cast<size_t>(fill), '#');
    bar.resize(kWidth, '.');
    const std::string speed = live ? std::string("  ") + rate_text + " " + opts_.unit + "/s" : "";
    const std::string time = live || final ? std::string("  ") + (final ? "took " : "ETA ") + when : "";
    std::snprintf(line, sizeof line, "%s[%s] %lld/%lld %5.1f%%%s%s  %s", label.c_str(), bar.c_str(),
                  static_cast<long long>(done_), static_cast<long long>(total_), 100.0 * frac, speed.c_str(),
                  time.c_str(), detail.c_str());
    // Clear what the last redraw left: the erase-line escape, or spaces where escapes are unwanted.
    const size_t len = std::strlen(line);
    const std::string pad = plain_ ? std::string(last_len_ > len ? last_len_ - len : 0, ' ') : "\033[K";
    last_len_ = len;
    std::fprintf(out_, "\r%s%s", line, pad.c_str());
    if (final) std::fputc('\n', out_);
  } else {
    const std::string speed = live ? std::string(" rate=") + rate_text + opts_.unit + "/s" : "";
    const std::string time = final ? " elapsed=" + when : live ? " eta=" + when : "";
    std::fprintf(out_, "%sprogress done=%lld total=%lld pct=%.1f%s%s%s%s\n", label.c_str(),
                 static_cast<long long>(done_), static_cast<long long>(total_), 100.0 * frac, speed.c_str(),
                 time.c_str(), detail.empty() ? "" : " ", detail.c_str());
  }
  std::fflush(out_);
}

}  // namespace landscape::client
