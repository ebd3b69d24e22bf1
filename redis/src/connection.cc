#include "landscape/redis/connection.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace landscape::redis {

using core::StatusCode;

// ---- URL ----------------------------------------------------------------------

Result<RedisOptions> ParseRedisUrl(std::string_view url) {
  RedisOptions o;
  const std::string field = "redis";
  std::string_view rest = url;
  if (rest.substr(0, 8) != "redis://") {
    return core::InvalidArgument(field, "expected redis://HOST:PORT, got '" + std::string(url) + "'");
  }
  rest.remove_prefix(8);
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view cred = rest.substr(0, at);
    if (const auto colon = cred.find(':'); colon != std::string_view::npos) cred.remove_prefix(colon + 1);
    o.password = std::string(cred);
    rest.remove_prefix(at + 1);
  }
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    const std::string db(rest.substr(slash + 1));
    rest = rest.substr(0, slash);
    if (!db.empty()) {
      char* end = nullptr;
      const long v = std::strtol(db.c_str(), &end, 10);
      if (*end != '\0' || v < 0 || v > 15) return core::InvalidArgument(field, "bad database number '" + db + "'");
      o.db = static_cast<int>(v);
    }
  }
  if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    const std::string port(rest.substr(colon + 1));
    char* end = nullptr;
    const long v = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || v < 1 || v > 65535) {
      return core::InvalidArgument(field, "bad port '" + port + "' in '" + std::string(url) + "'");
    }
    o.port = static_cast<int>(v);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return core::InvalidArgument(field, "no host in '" + std::string(url) + "'");
  o.host = std::string(rest);
  return o;
}

std::string DisplayUrl(const RedisOptions& o) {
  return "redis://" + o.host + ":" + std::to_string(o.port) + "/" + std::to_string(o.db);
}

// ---- replies ------------------------------------------------------------------

void ReplyDeleter::operator()(redisReply* r) const {
  if (r != nullptr) freeReplyObject(r);
}

bool ReplyView::is_nil() const { return r_ == nullptr || r_->type == REDIS_REPLY_NIL; }
bool ReplyView::is_error() const { return r_ != nullptr && r_->type == REDIS_REPLY_ERROR; }
bool ReplyView::is_array() const { return r_ != nullptr && r_->type == REDIS_REPLY_ARRAY; }
bool ReplyView::is_integer() const { return r_ != nullptr && r_->type == REDIS_REPLY_INTEGER; }
bool ReplyView::is_string() const {
  return r_ != nullptr && (r_->type == REDIS_REPLY_STRING || r_->type == REDIS_REPLY_STATUS);
}
std::string_view ReplyView::str() const {
  if (r_ == nullptr || (r_->type != REDIS_REPLY_STRING && r_->type != REDIS_REPLY_STATUS &&
                        r_->type != REDIS_REPLY_ERROR)) {
    return {};
  }
  return std::string_view(r_->str, r_->len);
}
long long ReplyView::integer() const { return is_integer() ? r_->integer : 0; }
size_t ReplyView::size() const { return is_array() ? r_->elements : 0; }
ReplyView ReplyView::operator[](size_t i) const { return ReplyView(i < size() ? r_->element[i] : nullptr); }

std::string_view ReplyView::error_code() const {
  if (!is_error()) return {};
  const std::string_view s = str();
  return s.substr(0, s.find(' '));
}

std::string ReplyView::Describe() const {
  if (r_ == nullptr) return "no reply";
  switch (r_->type) {
    case REDIS_REPLY_STRING: return "a string";
    case REDIS_REPLY_ARRAY: return "an array of " + std::to_string(r_->elements);
    case REDIS_REPLY_INTEGER: return "the integer " + std::to_string(r_->integer);
    case REDIS_REPLY_NIL: return "nil";
    case REDIS_REPLY_STATUS: return "the status " + std::string(str());
    case REDIS_REPLY_ERROR: return "the error '" + std::string(str()) + "'";
  }
  return "an unknown reply type";
}

Status ReplyErrorStatus(ReplyView error, const std::string& what) {
  const std::string_view code = error.error_code();
  StatusCode c = StatusCode::kInternal;
  if (code == "LOADING" || code == "READONLY" || code == "MASTERDOWN" || code == "BUSY" || code == "TRYAGAIN") {
    c = StatusCode::kUnavailable;
  } else if (code == "OOM") {
    c = StatusCode::kResourceExhausted;
  }
  return Status(c, "redis: " + what + ": " + std::string(error.str()));
}

// ---- connection -----------------------------------------------------------------

namespace {
timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}
}  // namespace

void Connection::ContextDeleter::operator()(redisContext* c) const {
  if (c != nullptr) redisFree(c);
}

Connection::~Connection() = default;

Result<std::unique_ptr<Connection>> Connection::Connect(const RedisOptions& opts) {
  std::unique_ptr<Connection> c(new Connection(opts));
  LS_RETURN_IF_ERROR(c->Dial());
  return c;
}

Status Connection::Dial() {
  ctx_.reset(redisConnectWithTimeout(opts_.host.c_str(), opts_.port, ToTimeval(opts_.connect_timeout)));
  const std::string where = DisplayUrl(opts_);
  if (!ctx_) return core::Unavailable("redis: cannot allocate a connection to " + where);
  if (ctx_->err != 0) {
    const std::string why = ctx_->errstr;
    ctx_.reset();
    return core::Unavailable("redis: cannot connect to " + where + ": " + why);
  }
  current_timeout_ = std::chrono::milliseconds(0);
  LS_RETURN_IF_ERROR(SetTimeout(opts_.io_timeout));
  if (!opts_.password.empty()) {
    auto r = Command({"AUTH", opts_.password});
    if (!r.ok()) return r.status();
    if (r->is_error()) {
      ctx_.reset();
      return Status(StatusCode::kPermissionDenied, "redis: AUTH failed: " + std::string(r->str()));
    }
  }
  if (opts_.db != 0) {
    auto r = Command({"SELECT", std::to_string(opts_.db)});
    if (!r.ok()) return r.status();
    if (r->is_error()) return ReplyErrorStatus(r->view(), "SELECT");
  }
  return Status::Ok();
}

Status Connection::EnsureConnected() {
  if (ctx_ && ctx_->err == 0) return Status::Ok();
  return Dial();
}

Status Connection::SetTimeout(std::chrono::milliseconds t) {
  if (t == current_timeout_) return Status::Ok();
  if (redisSetTimeout(ctx_.get(), ToTimeval(t)) != REDIS_OK) return TransportError("setting the socket timeout");
  current_timeout_ = t;
  return Status::Ok();
}

Status Connection::TransportError(const char* doing) {
  const int err = ctx_ ? ctx_->err : REDIS_ERR_OTHER;
  const std::string why = ctx_ ? ctx_->errstr : "no connection";
  const bool timeout = err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK ||
                                               why.find("temporarily unavailable") != std::string::npos);
  ctx_.reset();  // the protocol state is unknown: reconnect next time
  const std::string msg = "redis " + DisplayUrl(opts_) + ": " + doing + ": " + why;
  if (timeout) return Status(StatusCode::kDeadlineExceeded, msg + " (timed out)");
  if (err == REDIS_ERR_EOF) return core::Unavailable(msg + " (connection closed)");
  return core::Unavailable(msg);
}

Result<Reply> Connection::ReadReply(const char* doing) {
  void* raw = nullptr;
  if (redisGetReply(ctx_.get(), &raw) != REDIS_OK || raw == nullptr) return TransportError(doing);
  return Reply(ReplyPtr(static_cast<redisReply*>(raw)));
}

namespace {
void AppendArgv(redisContext* ctx, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  redisAppendCommandArgv(ctx, static_cast<int>(args.size()), argv.data(), lens.data());
}
}  // namespace

Result<Reply> Connection::Command(const std::vector<std::string>& args) {
  return BlockingCommand(args, std::chrono::milliseconds(0));
}

Result<Reply> Connection::BlockingCommand(const std::vector<std::string>& args, std::chrono::milliseconds block) {
  LS_RETURN_IF_ERROR(EnsureConnected());
  LS_RETURN_IF_ERROR(SetTimeout(opts_.io_timeout + block));
  AppendArgv(ctx_.get(), args);
  return ReadReply(args.empty() ? "command" : args[0].c_str());
}

Result<std::vector<Reply>> Connection::Pipeline(const std::vector<std::vector<std::string>>& commands) {
  LS_RETURN_IF_ERROR(EnsureConnected());
  LS_RETURN_IF_ERROR(SetTimeout(opts_.io_timeout));
  for (const auto& c : commands) AppendArgv(ctx_.get(), c);
  std::vector<Reply> out;
  out.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    LS_ASSIGN_OR_RETURN(Reply r, ReadReply("pipeline"));
    out.push_back(std::move(r));
  }
  return out;
}

// ---- pool ------------------------------------------------------------------------

std::shared_ptr<ConnectionPool> ConnectionPool::Create(const RedisOptions& opts, size_t max_size) {
  return std::shared_ptr<ConnectionPool>(new ConnectionPool(opts, max_size == 0 ? 1 : max_size));
}

Result<ConnectionPool::Lease> ConnectionPool::Acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !idle_.empty() || lent_ < max_size_; });
  ++lent_;
  if (!idle_.empty()) {
    Idle idle = std::move(idle_.back());
    idle_.pop_back();
    lock.unlock();
    if (std::chrono::steady_clock::now() - idle.since >= std::chrono::seconds(1)) {
      // A dead socket fails here and is dropped: the caller's command then reconnects.
      (void)idle.c->Command({"PING"});
    }
    return Lease(this, std::move(idle.c));
  }
  lock.unlock();
  auto c = Connection::Connect(opts_);
  if (!c.ok()) {
    lock.lock();
    --lent_;
    cv_.notify_one();
    return c.status();
  }
  return Lease(this, std::move(*c));
}

void ConnectionPool::GiveBack(std::unique_ptr<Connection> c) {
  std::lock_guard<std::mutex> lock(mu_);
  --lent_;
  idle_.push_back(Idle{std::move(c), std::chrono::steady_clock::now()});
  cv_.notify_one();
}

ConnectionPool::Lease::~Lease() {
  if (pool_ != nullptr && c_) pool_->GiveBack(std::move(c_));
}

}  // namespace landscape::redis
