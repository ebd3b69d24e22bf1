// A RAII wrapper over hiredis (0.14, RESP2): one connection, a pool of them,
// and replies that free themselves.
//
// Error taxonomy:
//  - transport failures (I/O error, connection closed, protocol error) ->
//    kUnavailable; a socket timeout -> kDeadlineExceeded. The socket is
//    dropped and the next command reconnects. A command is never resent
//    automatically: it may have run.
//  - Redis error replies ("-ERR ...", "-NOGROUP ...") are replies, not
//    failures: check Reply::is_error(); ReplyErrorStatus() turns one into a
//    Status (LOADING / READONLY / MASTERDOWN -> kUnavailable, OOM ->
//    kResourceExhausted, others kInternal).
//  - a reply of an unexpected shape -> kInternal, from the parsers in reply.h.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "landscape/core/status.h"

struct redisContext;
struct redisReply;

namespace landscape::redis {

using core::Result;
using core::Status;

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string password;  // AUTH after connecting, when set
  std::chrono::milliseconds connect_timeout{2000};
  /// Socket timeout of one command; blocking commands add their block time.
  std::chrono::milliseconds io_timeout{5000};
};

/// "redis://[:password@]host[:port][/db]" (default port 6379, db 0).
Result<RedisOptions> ParseRedisUrl(std::string_view url);
/// "redis://host:port/db", without the password (for logs).
std::string DisplayUrl(const RedisOptions& opts);

struct ReplyDeleter {
  void operator()(redisReply* r) const;
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

/// A read-only view of one node of a reply tree; valid while its Reply lives.
class ReplyView {
 public:
  explicit ReplyView(const redisReply* r) : r_(r) {}
  bool is_nil() const;
  bool is_error() const;
  bool is_array() const;
  bool is_integer() const;
  bool is_string() const;  // bulk or status string
  /// The text of a string, status or error reply ("" otherwise).
  std::string_view str() const;
  long long integer() const;  // integer replies only
  size_t size() const;        // array replies: the number of elements
  ReplyView operator[](size_t i) const;
  /// The first word of an error reply ("NOGROUP", "BUSYGROUP", "NOSCRIPT").
  std::string_view error_code() const;
  /// A short description for messages: the type and, for errors, the text.
  std::string Describe() const;

 private:
  const redisReply* r_;
};

/// An owned reply tree.
class Reply {
 public:
  explicit Reply(ReplyPtr r) : r_(std::move(r)) {}
  ReplyView view() const { return ReplyView(r_.get()); }
  bool is_nil() const { return view().is_nil(); }
  bool is_error() const { return view().is_error(); }
  std::string_view str() const { return view().str(); }
  size_t size() const { return view().size(); }
  ReplyView operator[](size_t i) const { return view()[i]; }

 private:
  ReplyPtr r_;
};

/// The Status for an error reply; `what` says which command or script it answered.
Status ReplyErrorStatus(ReplyView error, const std::string& what);

/// One Redis connection. Not thread-safe: one per thread (a blocking command
/// occupies it). Reconnects lazily after a transport failure.
class Connection {
 public:
  /// Connects (and authenticates and selects the db) now; kUnavailable if Redis cannot be reached.
  static Result<std::unique_ptr<Connection>> Connect(const RedisOptions& opts);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Sends one command, returns its reply (which may be an error reply).
  Result<Reply> Command(const std::vector<std::string>& args);
  /// For commands that block in Redis for up to `block` (XREAD... BLOCK):
  /// the socket timeout is io_timeout + block for this command.
  Result<Reply> BlockingCommand(const std::vector<std::string>& args, std::chrono::milliseconds block);
  /// Sends every command, then reads every reply: one round trip.
  Result<std::vector<Reply>> Pipeline(const std::vector<std::vector<std::string>>& commands);

  const RedisOptions& options() const { return opts_; }

 private:
  explicit Connection(RedisOptions opts) : opts_(std::move(opts)) {}
  Status Dial();
  Status EnsureConnected();
  Status TransportError(const char* doing);
  Status SetTimeout(std::chrono::milliseconds t);
  Result<Reply> ReadReply(const char* doing);

  struct ContextDeleter {
    void operator()(redisContext* c) const;
  };
  RedisOptions opts_;
  std::unique_ptr<redisContext, ContextDeleter> ctx_;
  std::chrono::milliseconds current_timeout_{0};
};

/// Connections shared by threads: Acquire() lends one (creating it on first
/// need, up to `max_size`), the Lease gives it back when destroyed.
class ConnectionPool {
 public:
  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<Connection> c) : pool_(pool), c_(std::move(c)) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), c_(std::move(o.c_)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Connection& operator*() { return *c_; }
    Connection* operator->() { return c_.get(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Connection> c_;
  };

  /// Creates the pool without connecting; connections are made on demand.
  static std::shared_ptr<ConnectionPool> Create(const RedisOptions& opts, size_t max_size);

  /// A connection; waits while `max_size` are lent. kUnavailable when a new
  /// connection cannot be made. A connection idle for a second or more is
  /// checked (PING) first, so that one Redis restart does not fail the next
  /// command sent on each pooled connection.
  Result<Lease> Acquire();
  const RedisOptions& options() const { return opts_; }

 private:
  ConnectionPool(RedisOptions opts, size_t max_size) : opts_(std::move(opts)), max_size_(max_size) {}
  void GiveBack(std::unique_ptr<Connection> c);

  struct Idle {
    std::unique_ptr<Connection> c;
    std::chrono::steady_clock::time_point since;
  };
  RedisOptions opts_;
  size_t max_size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Idle> idle_;
  size_t lent_ = 0;
};

}  // namespace landscape::redis
