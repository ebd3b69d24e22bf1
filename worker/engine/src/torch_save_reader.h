// Reads files written by Python's torch.save (the zip format, PyTorch >= 1.6):
// nested dicts / OrderedDicts / lists / tuples of tensors, strings and numbers.
// LibTorch's own pickle_load turns every OrderedDict into None (it expects them
// only inside TorchScript archives), so state dicts need this reader.
// Values it cannot represent (numpy scalars, custom classes) become Opaque;
// only the tensors and containers around them matter to us.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "landscape/core/status.h"

namespace landscape::engine {

struct PyValue;
using PyRef = std::shared_ptr<PyValue>;

struct PyValue {
  enum class Kind { kNone, kBool, kInt, kFloat, kString, kBytes, kTuple, kList, kDict, kTensor, kGlobal, kOpaque };
  Kind kind = Kind::kNone;
  bool b = false;
  int64_t i = 0;
  double f = 0.0;
  std::string s;                              // kString, kBytes, kGlobal ("module.name"), kOpaque (what it was)
  std::vector<PyRef> items;                   // kTuple, kList
  std::vector<std::pair<PyRef, PyRef>> dict;  // kDict, insertion order kept
  at::Tensor tensor;                          // kTensor

  /// The value for string key `key` in a dict, or nullptr.
  PyRef Get(const std::string& key) const;
};

/// Caps on what one torch.save file may make the reader allocate or walk. Every cap is checked
/// before the allocation it bounds; breaking one is kResourceExhausted naming the cap.
struct TorchSaveLimits {
  /// Bytes of one storage (declared element count x element size), and of one tensor view over it.
  uint64_t max_storage_bytes = uint64_t{16} << 30;  // 16 GiB
  /// Values the unpickler may create (each costs ~200 bytes; a state dict makes a few per tensor).
  uint64_t max_values = 4'000'000;
  /// Entries of the pickle's memo (PUT / MEMOIZE).
  uint64_t max_memo = 1'000'000;
  /// Nesting of containers in the result (a state dict nests 2 to 4 deep).
  int max_depth = 200;
};

/// Parses a torch.save file: the zip format (PyTorch >= 1.6) or the legacy one (older
/// PyTorch, e.g. the paper's pre-trained checkpoints; _use_new_zipfile_serialization=False).
/// Errors: kNotFound, kInvalidArgument (not a torch.save file; legacy storage views),
/// kDataLoss (corrupt).
/// kResourceExhausted (a cap of `limits` broken). Recursive or cyclic containers are kDataLoss.
core::Result<PyRef> ReadTorchSave(const std::string& path, const TorchSaveLimits& limits = {});

/// True when `path` starts as torch.save's legacy format does (its magic-number pickle).
bool IsLegacyTorchSave(const std::string& path);

/// Runs the unpickler over `pickle` with storages from `load_storage(key, bytes)`. Exposed for tests.
core::Result<PyRef> Unpickle(const std::vector<uint8_t>& pickle,
                             const std::function<core::Result<std::vector<uint8_t>>(const std::string&)>& records,
                             const TorchSaveLimits& limits = {});

}  // namespace landscape::engine
