// The gRPC side of the remote commands: a stub with the token and deadlines,
// the one grpc::Status -> core::Status mapping of the client, and the steps
// the commands share (watch to the end, download a surface).
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "landscape/core/status.h"
#include "landscape/v1/landscape.grpc.pb.h"
#include "remote_commands.h"

namespace landscape::client {

/// Status from a gRPC status: the code kept (UNAVAILABLE -> kUnavailable: exit
/// 69; DEADLINE_EXCEEDED: exit 75), the server's message ("field: reason") kept.
core::Status FromGrpc(const grpc::Status& s, const std::string& server);

/// HOST (a name, an IPv4 address or [IPv6]) without a port gets the server's default port, 50051
/// ("localhost" -> "localhost:50051"), instead of gRPC's 443. Targets with a scheme ("dns:///",
/// "unix:") and HOST:PORT are returned unchanged.
std::string WithDefaultPort(const std::string& server);

class RemoteClient {
 public:
  static core::Result<std::unique_ptr<RemoteClient>> Connect(const RemoteOptions& opts);

  v1::LandscapeService::Stub& stub() { return *stub_; }
  /// A context with the token, and a deadline of `timeout_s` (0: none).
  std::unique_ptr<grpc::ClientContext> Context(double timeout_s) const;
  std::unique_ptr<grpc::ClientContext> Context() const { return Context(opts_.timeout_s); }
  core::Status Check(const grpc::Status& s) const { return FromGrpc(s, opts_.server); }
  const RemoteOptions& options() const { return opts_; }

  /// Uploads a local file; returns its sha256.
  core::Result<std::string> Upload(const std::string& path);
  /// Downloads artifact `sha256` and checks its hash.
  core::Result<std::string> Download(const std::string& sha256, const std::string& what);
  /// Follows job `id` to its end, printing progress (or, with `json`, each event as a JSON line on
  /// stdout); resumes after dropped streams. Returns the exit code.
  int Watch(const std::string& id, const std::string& progress, double reconnect_for_s, bool json = false);
  /// Downloads the surface (and direction file) as GetOptions describes.
  int Get(const GetOptions& opts);

 private:
  RemoteOptions opts_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::LandscapeService::Stub> stub_;
};

}  // namespace landscape::client
