// What the remote commands print of jobs and their events: the watch's view
// (state lines and a progress bar whose rate and ETA come from live events
// only, or one JSON object per event), and jobs as JSON (`list --json`).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "progress.h"
#include "landscape/v1/landscape.pb.h"

namespace landscape::client {

/// A job as one JSON object: name, state, display_name, labels, points_done, points_total,
/// create/start/end times (RFC 3339, absent when unset), error and error_field when failed.
nlohmann::json JobToJson(const v1::Job& job);

/// An event as one JSON object: cursor, time, state (for a state change, with message and
/// field), progress, and for a tile its index, range and metric values.
nlohmann::json EventToJson(const v1::JobEvent& ev);

/// Prints the events of one watched job. The stream first replays what happened before the watch
/// began: `at_start` (the job when the watch began) tells those events apart, and they feed no
/// rate: the bar starts at the watch's start for a running job, or when the job starts running
/// while watched, and shows a rate and ETA once points are done after that.
class WatchView {
 public:
  struct Options {
    std::string progress = "auto";  // auto | bar | lines | quiet
    bool json = false;              // one JSON line per event on stdout, nothing else
  };
  WatchView(std::string name, Options opts, const v1::Job* at_start);

  void OnEvent(const v1::JobEvent& ev);
  /// The job ended without a final event on the stream (read with GetJob instead).
  void OnFinal(const v1::Job& job);

 private:
  void StateLine(v1::JobState state, const std::string& why);
  void StartBar(int64_t total, int64_t done);

  std::string name_;
  Options opts_;
  int64_t done_at_start_ = 0;
  v1::JobState state_at_start_ = v1::JOB_STATE_UNSPECIFIED;
  std::unique_ptr<ProgressReporter> bar_;
};

}  // namespace landscape::client
