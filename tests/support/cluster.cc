#include "cluster.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

#include "landscape/redis/reply.h"

namespace landscape::testing {

using std::chrono::seconds;

std::string CliBinary() { return Binary("client/landscape"); }
std::string ServerBinary() { return Binary("server/landscape-server"); }
std::string WorkerBinary() { return Binary("worker/landscape-worker"); }

Cluster::Cluster(ClusterOptions options) : options_(std::move(options)) {
  dir_ = MakeTempDir(options_.dir_prefix);
  EXPECT_FALSE(dir_.empty()) << "no temporary directory";
  redis_ = RedisServer::Start(options_.redis);
  EXPECT_NE(redis_, nullptr) << "redis-server did not start";
  port_ = FreePort();
  if (!options_.tokens.empty()) SetTokens(options_.tokens);
  if (options_.start_server) StartServer();
  for (int i = 1; i <= options_.workers; ++i) StartWorker("w" + std::to_string(i));
}

Cluster::~Cluster() {
  workers_.clear();
  server_.reset();
  redis_.reset();
  conn_.reset();
  if (::testing::Test::HasFailure()) {
    std::fprintf(stderr, "cluster logs kept in %s\n", dir_.c_str());
  } else {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

void Cluster::SetTokens(const std::string& text) {
  std::ofstream(TokensPath()) << text;
  has_tokens_ = true;
}

void Cluster::StartServer(const std::vector<std::string>& extra) {
  if (server_) {
    server_->Signal(SIGTERM);
    ASSERT_GE(server_->Wait(seconds(30)), 0) << "the server did not stop";
  }
  ASSERT_NE(redis_, nullptr);
  server_argv_ = {ServerBinary(), "--listen", Addr(), "--redis", redis_->url()};
  if (has_tokens_) server_argv_.insert(server_argv_.end(), {"--tokens", TokensPath()});
  server_argv_.insert(server_argv_.end(), options_.server_flags.begin(), options_.server_flags.end());
  server_argv_.insert(server_argv_.end(), extra.begin(), extra.end());
  LaunchServer();
}

void Cluster::RestartServer(int sig) {
  ASSERT_NE(server_, nullptr) << "no server to restart";
  server_->Signal(sig);
  ASSERT_GE(server_->Wait(seconds(30)), 0) << "the server did not stop";
  LaunchServer();
}

void Cluster::LaunchServer() {
  server_ = Process::Start(server_argv_, dir_ + "/server.log");
  ASSERT_NE(server_, nullptr) << "cannot start " << server_argv_[0];
  // The log is appended to across restarts: wait for one more "listening on" line than before.
  ASSERT_TRUE(WaitFor([&] { return CountOf(server_->Log(), "listening on") > server_starts_; }, seconds(20)))
      << server_->Log();
  ++server_starts_;
}

Process* Cluster::StartWorker(const std::string& name, const std::vector<std::string>& extra,
                              const std::vector<std::string>& env) {
  if (!redis_) {
    ADD_FAILURE() << "no Redis for worker " << name;
    return nullptr;
  }
  std::vector<std::string> argv{WorkerBinary(), "--redis", redis_->url(), "--name", name, "--cache", CacheDir(name)};
  argv.insert(argv.end(), options_.worker_flags.begin(), options_.worker_flags.end());
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto p = Process::Start(argv, dir_ + "/" + name + ".log", env);
  if (!p) {
    ADD_FAILURE() << "cannot start worker " << name;
    return nullptr;
  }
  workers_.push_back(std::move(p));
  Process* w = workers_.back().get();
  EXPECT_TRUE(WaitFor([&] { return w->Log().find("worker started") != std::string::npos; }, seconds(30)))
      << w->Log();
  return w;
}

std::unique_ptr<v1::LandscapeService::Stub> Cluster::Stub() const {
  return v1::LandscapeService::NewStub(grpc::CreateChannel(Addr(), grpc::InsecureChannelCredentials()));
}

CommandResult Cluster::Cli(const std::vector<std::string>& args, const std::vector<std::string>& env) const {
  std::vector<std::string> argv{CliBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, std::chrono::minutes(5), env);
}

std::unique_ptr<Process> Cluster::StartCli(const std::vector<std::string>& args, const std::string& log_name) const {
  std::vector<std::string> argv{CliBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return Process::Start(argv, dir_ + "/" + log_name);
}

std::string Cluster::Submit(const std::vector<std::string>& args, const std::vector<std::string>& env) const {
  std::vector<std::string> argv{"submit", "--server", Addr()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = Cli(argv, env);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::smatch m;
  EXPECT_TRUE(std::regex_search(r.output, m, std::regex("jobs/([0-9a-f]+)"))) << r.output;
  return m.size() > 1 ? m[1].str() : "";
}

redis::Reply Cluster::Redis(const std::vector<std::string>& args) {
  if (!conn_) {
    auto opts = redis::ParseRedisUrl(redis_ ? redis_->url() : "redis://127.0.0.1:1");
    auto c = redis::Connection::Connect(*opts);
    EXPECT_TRUE(c.ok()) << c.status();
    if (c.ok()) conn_ = std::move(*c);
  }
  if (!conn_) return redis::Reply(nullptr);
  auto r = conn_->Command(args);
  if (!r.ok()) r = conn_->Command(args);  // Redis restarted: the connection reconnects once
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? std::move(*r) : redis::Reply(nullptr);
}

int64_t Cluster::RedisInt(const std::vector<std::string>& args) {
  auto r = Redis(args);
  auto v = redis::ParseInteger(r.view(), args[0]);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *v : -1;
}

std::string Cluster::RedisHGet(const std::string& key, const std::string& field) {
  auto r = Redis({"HGET", key, field});
  return r.is_nil() ? std::string("<nil>") : std::string(r.str());
}

std::string Cluster::JobField(const std::string& id, const std::string& field) {
  return std::string(Redis({"HGET", "lls:job:" + id, field}).str());
}

std::string Cluster::WaitFinal(const std::string& id, std::chrono::seconds timeout) {
  std::string state;
  WaitFor(
      [&] {
        state = JobField(id, "state");
        return state == "SUCCEEDED" || state == "FAILED" || state == "CANCELLED";
      },
      timeout, std::chrono::milliseconds(100));
  return state;
}

int CountOf(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

std::unique_ptr<grpc::ClientContext> RpcContext(const std::string& token, std::chrono::seconds timeout) {
  auto c = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) c->AddMetadata("authorization", "Bearer " + token);
  c->set_deadline(std::chrono::system_clock::now() + timeout);
  return c;
}

std::string HttpGet(int port, const std::string& path, const std::string& authorization) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string req = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n";
    if (!authorization.empty()) req += "Authorization: " + authorization + "\r\n";
    req += "\r\n";
    if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

}  // namespace landscape::testing
