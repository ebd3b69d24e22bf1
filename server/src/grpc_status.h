// The one mapping from core::Status to grpc::Status. Messages carry the field
// ("grid.x: must have ...") so that clients can name it.
#pragma once

#include <grpcpp/support/status.h>

#include "landscape/core/status.h"

namespace landscape::server {

grpc::Status ToGrpcStatus(const core::Status& s);

}  // namespace landscape::server
