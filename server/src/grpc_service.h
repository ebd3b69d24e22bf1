// landscape.v1.LandscapeService on gRPC's callback API. Handlers translate:
// they authenticate, convert the request, run the JobService call on the
// executor (never blocking a gRPC thread), convert the result and finish.
// Streams keep one write in flight and end with an explicit Finish.
#pragma once

#include <memory>
#include <string>

#include "auth.h"
#include "event_hub.h"
#include "executor.h"
#include "job_service.h"
#include "landscape/redis/schema.h"
#include "landscape/v1/landscape.grpc.pb.h"
#include "metrics.h"

namespace landscape::server {

/// What the handlers and reactors share; every pointer outlives the gRPC server.
struct ServiceDeps {
  JobService* service = nullptr;
  EventHub* hub = nullptr;
  Executor* executor = nullptr;
  const TokenAuth* auth = nullptr;
  Metrics* metrics = nullptr;  // optional
  redis::Schema schema;
  size_t max_upload_message = 4 << 20;  // bytes of one UploadArtifact message

  void Count(const char* method, const grpc::Status& s) const;
};

class LandscapeServiceImpl final : public v1::LandscapeService::CallbackService {
 public:
  explicit LandscapeServiceImpl(ServiceDeps deps) : deps_(std::move(deps)) {}

  grpc::ServerReadReactor<v1::UploadArtifactRequest>* UploadArtifact(grpc::CallbackServerContext* ctx,
                                                                       v1::Artifact* response) override;
  grpc::ServerUnaryReactor* SubmitJob(grpc::CallbackServerContext* ctx, const v1::SubmitJobRequest* req,
                                      v1::Job* resp) override;
  grpc::ServerUnaryReactor* GetJob(grpc::CallbackServerContext* ctx, const v1::GetJobRequest* req,
                                   v1::Job* resp) override;
  grpc::ServerUnaryReactor* ListJobs(grpc::CallbackServerContext* ctx, const v1::ListJobsRequest* req,
                                     v1::ListJobsResponse* resp) override;
  grpc::ServerUnaryReactor* CancelJob(grpc::CallbackServerContext* ctx, const v1::CancelJobRequest* req,
                                      v1::Job* resp) override;
  grpc::ServerWriteReactor<v1::JobEvent>* WatchJob(grpc::CallbackServerContext* ctx,
                                                   const v1::WatchJobRequest* req) override;
  grpc::ServerWriteReactor<v1::SurfaceChunk>* GetSurface(grpc::CallbackServerContext* ctx,
                                                         const v1::GetSurfaceRequest* req) override;
  grpc::ServerWriteReactor<v1::ArtifactChunk>* GetArtifact(grpc::CallbackServerContext* ctx,
                                                           const v1::GetArtifactRequest* req) override;

 private:
  ServiceDeps deps_;
};

}  // namespace landscape::server
