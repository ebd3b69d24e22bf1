// Whole torch.save files through ReadTorchSave (via a scratch file): the zip format (LibTorch's
// PyTorchStreamReader reads the archive, our unpickler data.pkl) and the legacy format (ours).
#include "fuzz_util.h"
#include "torch_save_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace landscape;
  static fuzz::ScratchFile file(".pt");
  engine::TorchSaveLimits limits;
  limits.max_storage_bytes = uint64_t{1} << 20;
  limits.max_values = 200000;
  limits.max_memo = 100000;
  auto r = engine::ReadTorchSave(file.Write(data, size), limits);
  if (!r.ok()) fuzz::ExpectInputError(r.status());
  return 0;
}
