#include "landscape/engine/options.h"

namespace landscape::engine {

const char* ToString(Toggle t) {
  switch (t) {
    case Toggle::kAuto: return "auto";
    case Toggle::kOn: return "on";
    case Toggle::kOff: return "off";
  }
  return "auto";
}

const char* ToString(Precision p) {
  switch (p) {
    case Precision::kFp32: return "fp32";
    case Precision::kBf16: return "bf16";
    case Precision::kFp16: return "fp16";
  }
  return "fp32";
}

core::Result<Toggle> ParseToggle(const std::string& text, const std::string& field) {
  for (Toggle t : {Toggle::kAuto, Toggle::kOn, Toggle::kOff}) {
    if (text == ToString(t)) return t;
  }
  return core::InvalidArgument(field, "expected auto, on or off, got '" + text + "'");
}

core::Result<Precision> ParsePrecision(const std::string& text, const std::string& field) {
  for (Precision p : {Precision::kFp32, Precision::kBf16, Precision::kFp16}) {
    if (text == ToString(p)) return p;
  }
  return core::InvalidArgument(field, "expected fp32, bf16 or fp16, got '" + text + "'");
}

core::Status CheckPrecision(Precision precision, const std::string& device, const std::string& field) {
  if (precision == Precision::kFp16 && device.rfind("cuda", 0) != 0) {
    return core::InvalidArgument(field, "fp16 needs a CUDA device (use bf16 on CPUs)");
  }
  return core::Status::Ok();
}

}  // namespace landscape::engine
