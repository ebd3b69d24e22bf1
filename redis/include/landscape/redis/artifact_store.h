// Artifacts in Redis: content-addressed blobs stored in chunks
// ({p}artifact:{sha256}: size, chunks, c:0 .. c:{chunks-1}). An upload is
// staged under {p}upload:{id} and renamed once its hash is known, so readers
// never see a partial artifact and the same bytes are stored once.
//
// Tenants: an artifact is visible to the tenants granted on it (field
// t:{tenant}: whoever uploaded the bytes, and the tenant of a job that made
// them). The *For calls answer NotFound for an artifact the tenant may not
// see, with the message of one that does not exist. Workers use the
// unscoped calls (they run jobs whose references were checked at submit).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "landscape/core/artifacts.h"
#include "landscape/core/sha256.h"
#include "landscape/redis/connection.h"
#include "landscape/redis/schema.h"

namespace landscape::redis {

struct ArtifactOptions {
  int64_t max_bytes = int64_t{1} << 30;        // larger uploads: kResourceExhausted
  std::chrono::seconds ttl{7 * 24 * 3600};     // kept this long after the last upload or use
  size_t chunk_bytes = size_t{1} << 20;        // chunk size of PutFile
  std::chrono::seconds upload_ttl{3600};       // an abandoned upload's staging key expires after this
};

struct ArtifactInfo {
  std::string sha256;
  int64_t size = 0;
  int64_t chunks = 0;
};

class RedisArtifactStore;

/// One upload in progress. Not thread-safe. Destroyed uncommitted: the
/// staged chunks are deleted.
class ArtifactUpload {
 public:
  ~ArtifactUpload();
  /// Stores the next piece; kResourceExhausted past the size limit.
  Status Append(std::string_view bytes);
  /// Publishes the artifact (or finds it already there). With `expected_sha256`,
  /// a mismatch is kDataLoss and nothing is published.
  Result<ArtifactInfo> Commit(const std::string& expected_sha256 = {});
  int64_t size() const { return size_; }

 private:
  friend class RedisArtifactStore;
  ArtifactUpload(RedisArtifactStore* store, std::string key, std::string tenant)
      : store_(store), key_(std::move(key)), tenant_(std::move(tenant)) {}

  RedisArtifactStore* store_;
  std::string key_;
  std::string tenant_;  // granted on Commit ("" : nobody, e.g. a worker's file before its job's grant)
  core::Sha256 hash_;
  int64_t size_ = 0;
  int64_t chunks_ = 0;
  bool done_ = false;
};

class RedisArtifactStore final : public core::ArtifactStore {
 public:
  RedisArtifactStore(std::shared_ptr<ConnectionPool> pool, Schema schema, ArtifactOptions opts = {});

  /// An upload whose Commit grants `tenant` (none when empty).
  std::unique_ptr<ArtifactUpload> BeginUpload(std::string tenant = {});
  /// Size and chunk count; NotFound for an unknown (or expired) artifact.
  Result<ArtifactInfo> Stat(const std::string& sha256);
  /// Stat as `tenant` sees it: NotFound (the same message) when the tenant has no grant.
  Result<ArtifactInfo> StatFor(const std::string& tenant, const std::string& sha256);
  /// ReadChunk as `tenant` sees it.
  Result<std::string> ReadChunkFor(const std::string& tenant, const std::string& sha256, int64_t index);
  /// Extends the artifact's life to `ttl` from now (never shortens it).
  Status Touch(const std::string& sha256);
  /// Chunk `index` of the artifact.
  Result<std::string> ReadChunk(const std::string& sha256, int64_t index);

  Result<std::string> PutFile(const std::string& path) override;
  Status FetchToFile(const std::string& sha256, const std::string& path) override;

  const ArtifactOptions& options() const { return opts_; }

 private:
  friend class ArtifactUpload;
  std::shared_ptr<ConnectionPool> pool_;
  Schema schema_;
  ArtifactOptions opts_;
};

}  // namespace landscape::redis
