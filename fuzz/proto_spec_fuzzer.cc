// Proto conversion (what the server gets from a client): a v1::JobSpec parsed from bytes,
// converted to a core spec, validated, converted back, and the round trip read again.
#include <google/protobuf/stubs/logging.h>

#include "fuzz_util.h"
#include "landscape/core/spec.h"
#include "landscape/proto/convert.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace landscape;
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);  // invalid UTF-8 in a string field is logged, then refused
    return true;
  }();
  (void)quiet;
  v1::JobSpec p;
  if (!p.ParseFromArray(data, static_cast<int>(size))) return 0;
  auto spec = convert::SpecFromProto(p);
  if (!spec.ok()) {
    fuzz::ExpectInputError(spec.status());
    return 0;
  }
  fuzz::ExpectInputError(core::ValidateSpec(*spec));
  (void)core::ComputationKey(*spec);
  v1::JobSpec back;
  convert::SpecToProto(*spec, &back);
  auto again = convert::SpecFromProto(back);
  if (!again.ok()) {
    std::fprintf(stderr, "SpecToProto's output does not convert back: %s\n", again.status().ToString().c_str());
    std::abort();
  }
  if (core::SpecToJson(*again) != core::SpecToJson(*spec)) {
    std::fprintf(stderr, "the spec changed on the way back:\n%s\n%s\n", core::SpecToJson(*spec).c_str(),
                 core::SpecToJson(*again).c_str());
    std::abort();
  }
  return 0;
}
