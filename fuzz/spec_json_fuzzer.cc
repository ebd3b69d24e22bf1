// Spec JSON (what the CLI reads and the worker reads from Redis): SpecFromJson, then for a spec
// it accepts, ValidateSpec, and SpecToJson read back to the same JSON (a spec the service stores
// must read back as itself).
#include <string_view>

#include "fuzz_util.h"
#include "landscape/core/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace landscape;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto spec = core::SpecFromJson(text);
  if (!spec.ok()) {
    fuzz::ExpectInputError(spec.status());
    return 0;
  }
  fuzz::ExpectInputError(core::ValidateSpec(*spec));
  (void)core::ComputationKey(*spec);
  const std::string json = core::SpecToJson(*spec);
  auto again = core::SpecFromJson(json);
  if (!again.ok()) {
    std::fprintf(stderr, "SpecToJson's output does not read back: %s\n%s\n", again.status().ToString().c_str(),
                 json.c_str());
    std::abort();
  }
  if (core::SpecToJson(*again) != json) {
    std::fprintf(stderr, "the spec changed on the way back:\n%s\n%s\n", json.c_str(), core::SpecToJson(*again).c_str());
    std::abort();
  }
  return 0;
}
