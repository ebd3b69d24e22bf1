// What the tenant_isolation_test files share: two tenants (alice and bob) in a tokens file, their
// cluster's options, artifact and job calls over gRPC with a tenant's token, a small job spec, and the
// check of a refusal (its code, the field it names and the rule it states).
#pragma once

#include <string>

#include "cluster.h"

namespace landscape::tenant_test {

extern const std::string kAlice;  // alice's token
extern const std::string kBob;    // bob's token

/// A redis-server of its own, a server given the tokens file of alice and bob and --drain 1, and (when
/// started) one worker "w1".
testing::ClusterOptions TenantCluster();

/// 64 hex digits drawn from `seed`: a sha256 nobody uploaded.
std::string Hex64(uint64_t seed);

/// Uploads `bytes` as `token`; the sha256.
std::string Upload(v1::LandscapeService::Stub* stub, const std::string& token, const std::string& bytes);

struct Download {
  grpc::Status status;
  std::string bytes;
};
/// GetArtifact of `sha` as `token`.
Download Get(v1::LandscapeService::Stub* stub, const std::string& token, const std::string& sha);

/// SubmitJob of `spec` as `token`; the job into `*job` when given.
grpc::Status Submit(v1::LandscapeService::Stub* stub, const std::string& token, const v1::JobSpec& spec,
                    v1::Job* job = nullptr);

/// A 3 x 2-point job on synthetic data that fit the model of MakeModel.
v1::JobSpec SmallSpec(const std::string& model_ref);

/// A freshly initialized built-in CNN (input 1x28x28) exported to <cluster dir>/`name`; its path.
std::string MakeModel(testing::Cluster& c, const std::string& name, int seed);

/// The message with every sha256 in it replaced: two refusals compare equal when only the hash differs.
std::string WithoutSha(const std::string& message);

/// `s` has `code` and its message names `field` and states `rule`; `what` describes the case.
void ExpectRefused(const grpc::Status& s, grpc::StatusCode code, const std::string& field, const std::string& rule,
                   const std::string& what);

}  // namespace landscape::tenant_test
