// The torch.save unpickler: the input is the pickle (data.pkl); every storage record
// ("data/<key>") it names exists and holds 256 bytes. Small caps, so that declared sizes meet
// the caps rather than the fuzzer's memory limit.
#include "fuzz_util.h"
#include "torch_save_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace landscape;
  const std::vector<uint8_t> pickle(data, data + size);
  engine::TorchSaveLimits limits;
  limits.max_storage_bytes = uint64_t{1} << 20;
  limits.max_values = 200000;
  limits.max_memo = 100000;
  auto records = [](const std::string& name) -> core::Result<std::vector<uint8_t>> {
    if (name.rfind("data/", 0) != 0) return core::Status(core::StatusCode::kDataLoss, "missing record " + name);
    return std::vector<uint8_t>(256, static_cast<uint8_t>(name.size()));
  };
  auto r = engine::Unpickle(pickle, records, limits);
  if (!r.ok()) {
    fuzz::ExpectInputError(r.status());
    return 0;
  }
  (void)(*r)->Get("state_dict");
  return 0;
}
