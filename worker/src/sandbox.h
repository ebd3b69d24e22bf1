// The worker's sandbox: each job's preparation, and its tiles, run in a child
// process of their own (the worker's binary started again with --job-child-fd),
// so that a tenant's model that crashes LibTorch, eats memory or runs forever
// costs only that job. The parent never loads a model itself.
//
// Contract of SandboxEvaluatorFactory (a core::EvaluatorFactory):
// - Prepare starts a child, which runs the engine's Prepare and writes the
//   prepared files under scratch_dir; the child ends with the call.
// - Open starts a child that loads the job's evaluator once; each Evaluate sends
//   it a tile and reads the values back (LibTorch starts once per job). A child
//   that was killed (cancel, deadline) is started again by the next Evaluate.
// - Budgets: the child's resident memory (read from /proc/PID/statm every poll)
//   stays under memory_bytes or the child is killed; on CPU devices RLIMIT_AS
//   (memory_bytes + address_space_slack) stops faster growth too. Each
//   preparation or load has prepare_timeout, each tile tile_timeout.
// - The child is killed (SIGKILL) within one poll of `keep_going` answering
//   false; the call then returns kCancelled.
// - A broken budget or deadline is kResourceExhausted naming the flag; a child
//   that dies (a signal, or an exit without a reply) is kAborted naming the
//   signal or status, and only that is kAborted (the worker counts it as a
//   crash of the task: docs/service.md, Preemption); errors the child reports
//   keep their code (kUnavailable stays retryable; a kAborted is kInternal).
//
// Wire protocol over a SOCK_STREAM socketpair: frames of a u32 length (host
// order, at most kMaxFrameBytes) then the payload. Requests: u8 op, then
// Prepare: str spec_json, str scratch_dir | Open: str spec_json |
// Evaluate: i64 index, i64 begin, i64 end. Replies: u8 status code, str
// message, str field; when ok, Prepare: str directions, str projection, u32 n,
// n x (str key, str value) | Open: str description | Evaluate: u64 n, n doubles.
// str is a u32 length and its bytes.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "landscape/core/evaluator.h"

namespace landscape::worker {

struct SandboxOptions {
  /// The child's command line: the worker's own arguments (argv[0] is replaced by
  /// /proc/self/exe); "--job-child-fd 3" is added.
  std::vector<std::string> child_args;
  int64_t memory_bytes = int64_t{8} << 30;            // --job-memory-bytes: resident memory of one job's child
  bool limit_address_space = true;                     // RLIMIT_AS too (CPU devices; CUDA reserves huge ranges)
  int64_t address_space_slack = int64_t{4} << 30;     // RLIMIT_AS = memory_bytes + this (libraries, stacks, arenas)
  std::chrono::milliseconds prepare_timeout{3600000};  // --prepare-timeout: one preparation, or one job's load
  std::chrono::milliseconds tile_timeout{3600000};     // --tile-timeout: one tile
  std::chrono::milliseconds poll{50};                  // how often keep_going, the deadline and memory are checked
};

class SandboxEvaluatorFactory final : public core::EvaluatorFactory {
 public:
  explicit SandboxEvaluatorFactory(SandboxOptions opts) : opts_(std::move(opts)) {}

  core::Result<core::PreparedFiles> Prepare(const core::JobSpec& spec, const std::string& scratch_dir) override;
  core::Result<core::PreparedFiles> Prepare(const core::JobSpec& spec, const std::string& scratch_dir,
                                            const std::function<bool()>& keep_going) override;
  core::Result<std::unique_ptr<core::TileEvaluator>> Open(const core::JobSpec& spec) override;

 private:
  SandboxOptions opts_;
};

/// The child's side: answers requests on `fd` with `factory` until the parent
/// closes it; returns the process exit code (0 at EOF, 1 on a broken frame).
int RunJobChild(int fd, core::EvaluatorFactory& factory, int64_t memory_bytes);

/// "job memory budget of N bytes (--job-memory-bytes) exceeded while <doing>".
std::string MemoryBudgetMessage(int64_t bytes, const std::string& doing);

}  // namespace landscape::worker
