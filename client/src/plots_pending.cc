#include "plots.h"

namespace landscape::client {

core::Status DrawDefaultPlots(const std::string&, const io::Surface&, const std::vector<std::string>&) {
  return core::Status(core::StatusCode::kUnimplemented, "pictures are not available in this build", "--plot");
}

}  // namespace landscape::client
