#include "landscape/redis/artifact_store.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "landscape/core/job.h"
#include "landscape/redis/reply.h"
#include "scripts.h"

namespace landscape::redis {

using core::StatusCode;

RedisArtifactStore::RedisArtifactStore(std::shared_ptr<ConnectionPool> pool, Schema schema, ArtifactOptions opts)
    : pool_(std::move(pool)), schema_(std::move(schema)), opts_(opts) {}

std::unique_ptr<ArtifactUpload> RedisArtifactStore::BeginUpload(std::string tenant) {
  return std::unique_ptr<ArtifactUpload>(
      new ArtifactUpload(this, schema_.Upload(core::RandomId(24)), std::move(tenant)));
}

namespace {
Status Missing(const std::string& sha256) {
  return core::NotFound("artifact " + sha256 + " not found (never uploaded, or expired)");
}
Status CheckSha(const std::string& sha256) {
  if (core::IsSha256Hex(sha256)) return Status::Ok();
  return core::InvalidArgument("sha256", "'" + sha256 + "' is not a sha256 (64 lower-case hex characters)");
}
}  // namespace

ArtifactUpload::~ArtifactUpload() {
  if (done_ || chunks_ == 0) return;
  if (auto c = store_->pool_->Acquire(); c.ok()) (void)(*c)->Command({"DEL", key_});
  // Unreachable Redis: the staging key expires by itself.
}

Status ArtifactUpload::Append(std::string_view bytes) {
  if (done_) return core::FailedPrecondition("upload already committed");
  if (bytes.empty()) return Status::Ok();
  if (size_ + static_cast<int64_t>(bytes.size()) > store_->opts_.max_bytes) {
    return Status(StatusCode::kResourceExhausted,
                  "artifact larger than the limit of " + std::to_string(store_->opts_.max_bytes) + " bytes");
  }
  LS_ASSIGN_OR_RETURN(auto c, store_->pool_->Acquire());
  LS_ASSIGN_OR_RETURN(auto replies,
                      c->Pipeline({{"HSET", key_, "c:" + std::to_string(chunks_), std::string(bytes)},
                                   {"EXPIRE", key_, std::to_string(store_->opts_.upload_ttl.count())}}));
  for (const Reply& r : replies) LS_RETURN_IF_ERROR(CheckReply(r.view(), "storing an upload chunk"));
  hash_.Update(bytes);
  size_ += static_cast<int64_t>(bytes.size());
  ++chunks_;
  return Status::Ok();
}

Result<ArtifactInfo> ArtifactUpload::Commit(const std::string& expected_sha256) {
  if (done_) return core::FailedPrecondition("upload already committed");
  ArtifactInfo info;
  info.sha256 = hash_.HexDigest();
  info.size = size_;
  info.chunks = chunks_;
  if (!expected_sha256.empty() && expected_sha256 != info.sha256) {
    return Status(StatusCode::kDataLoss, "the uploaded bytes have sha256 " + info.sha256 + ", not " +
                                             expected_sha256 + " as announced (corrupted in transit?)");
  }
  LS_ASSIGN_OR_RETURN(auto c, store_->pool_->Acquire());
  LS_RETURN_IF_ERROR(scripts::CommitArtifact()
                         .Run(*c, {key_, store_->schema_.Artifact(info.sha256)},
                              {std::to_string(size_), std::to_string(chunks_),
                               std::to_string(store_->opts_.ttl.count()), tenant_})
                         .status());
  done_ = true;
  return info;
}

Result<ArtifactInfo> RedisArtifactStore::Stat(const std::string& sha256) { return StatFor("", sha256); }

// tenant "" : unscoped (workers).
Result<ArtifactInfo> RedisArtifactStore::StatFor(const std::string& tenant, const std::string& sha256) {
  LS_RETURN_IF_ERROR(CheckSha(sha256));
  LS_ASSIGN_OR_RETURN(auto c, pool_->Acquire());
  std::vector<std::string> cmd{"HMGET", schema_.Artifact(sha256), "size", "chunks"};
  if (!tenant.empty()) cmd.push_back("t:" + tenant);
  LS_ASSIGN_OR_RETURN(Reply r, c->Command(cmd));
  LS_RETURN_IF_ERROR(CheckReply(r.view(), "HMGET artifact"));
  if (r.size() != cmd.size() - 2 || r[0].is_nil()) return Missing(sha256);
  if (!tenant.empty() && r[2].is_nil()) return Missing(sha256);  // another tenant's: as if absent
  ArtifactInfo info;
  info.sha256 = sha256;
  LS_ASSIGN_OR_RETURN(info.size, ParseInteger(r[0], "artifact size"));
  LS_ASSIGN_OR_RETURN(info.chunks, ParseInteger(r[1], "artifact chunks"));
  return info;
}

Status RedisArtifactStore::Touch(const std::string& sha256) {
  LS_ASSIGN_OR_RETURN(auto c, pool_->Acquire());
  LS_ASSIGN_OR_RETURN(Reply r, c->Command({"EXPIRE", schema_.Artifact(sha256), std::to_string(opts_.ttl.count()), "GT"}));
  return CheckReply(r.view(), "EXPIRE artifact");
}

Result<std::string> RedisArtifactStore::ReadChunkFor(const std::string& tenant, const std::string& sha256,
                                                     int64_t index) {
  LS_RETURN_IF_ERROR(CheckSha(sha256));
  LS_ASSIGN_OR_RETURN(auto c, pool_->Acquire());
  LS_ASSIGN_OR_RETURN(Reply r, c->Command({"HMGET", schema_.Artifact(sha256), "c:" + std::to_string(index),
                                           "t:" + tenant}));
  LS_RETURN_IF_ERROR(CheckReply(r.view(), "HMGET artifact chunk"));
  if (r.size() != 2 || r[1].is_nil()) return Missing(sha256);
  LS_ASSIGN_OR_RETURN(auto chunk, ParseOptionalString(r[0], "artifact chunk"));
  if (!chunk) return core::NotFound("artifact " + sha256 + ": chunk " + std::to_string(index) + " is missing (expired?)");
  return std::move(*chunk);
}

Result<std::string> RedisArtifactStore::ReadChunk(const std::string& sha256, int64_t index) {
  LS_ASSIGN_OR_RETURN(auto c, pool_->Acquire());
  LS_ASSIGN_OR_RETURN(Reply r, c->Command({"HGET", schema_.Artifact(sha256), "c:" + std::to_string(index)}));
  LS_ASSIGN_OR_RETURN(auto chunk, ParseOptionalString(r.view(), "HGET artifact chunk"));
  if (!chunk) return core::NotFound("artifact " + sha256 + ": chunk " + std::to_string(index) + " is missing (expired?)");
  return std::move(*chunk);
}

Result<std::string> RedisArtifactStore::PutFile(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return core::NotFound("cannot open " + path);
  auto upload = BeginUpload();
  std::string buf(opts_.chunk_bytes, '\0');
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) {
    LS_RETURN_IF_ERROR(upload->Append(std::string_view(buf.data(), n)));
  }
  if (std::ferror(f.get())) return core::DataLoss("cannot read " + path);
  LS_ASSIGN_OR_RETURN(ArtifactInfo info, upload->Commit());
  return info.sha256;
}

Status RedisArtifactStore::FetchToFile(const std::string& sha256, const std::string& path) {
  LS_ASSIGN_OR_RETURN(ArtifactInfo info, Stat(sha256));
  (void)Touch(sha256);
  const std::string tmp = path + ".part." + std::to_string(::getpid()) + "." + core::RandomId(8);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  {
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(tmp.c_str(), "wb"), &std::fclose);
    if (!f) return core::Internal("cannot write " + tmp);
    core::Sha256 hash;
    for (int64_t i = 0; i < info.chunks; ++i) {
      auto chunk = ReadChunk(sha256, i);
      if (!chunk.ok()) {
        f.reset();
        std::filesystem::remove(tmp, ec);
        return chunk.status();
      }
      hash.Update(*chunk);
      if (std::fwrite(chunk->data(), 1, chunk->size(), f.get()) != chunk->size()) {
        f.reset();
        std::filesystem::remove(tmp, ec);
        return core::Internal("cannot write " + tmp + " (disk full?)");
      }
    }
    if (std::fflush(f.get()) != 0) return core::Internal("cannot write " + tmp);
    if (hash.HexDigest() != sha256) {
      f.reset();
      std::filesystem::remove(tmp, ec);
      return core::DataLoss("artifact " + sha256 + " is corrupt in Redis (its bytes hash differently)");
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) return core::Internal("cannot rename " + tmp + " to " + path + ": " + ec.message());
  return Status::Ok();
}

}  // namespace landscape::redis
