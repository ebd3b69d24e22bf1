// The pickle machine behind ReadTorchSave (torch_save_reader.h): runs one pickle (protocol 2 to 5,
// the opcodes torch.save and LibTorch's pickle_save write) into PyValues. It calls nothing: the
// only callables it knows (OrderedDict, dict, torch's tensor and parameter rebuilders) are built
// in; any other global becomes an Opaque value naming it. Every error is a Status (kDataLoss:
// corrupt; kInvalidArgument: unsupported; kResourceExhausted: a cap of TorchSaveLimits).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <unordered_set>
#include <vector>

#include "torch_save_reader.h"

namespace landscape::engine {

/// Reads a storage's record ("data/<key>") of a zip-format file.
using RecordReader = std::function<core::Result<std::vector<uint8_t>>(const std::string&)>;

/// "corrupt torch.save data: <what>" (kDataLoss).
core::Status TorchSaveCorrupt(const std::string& what);

class Unpickler {
 public:
  /// Reads one pickle of `data` from byte `start`. Storages come from `records("data/<key>")`;
  /// an empty `records` (the legacy format, whose storages follow the pickles) makes them
  /// zero-filled, to be filled through storages() once their bytes are read. `data`, `records`
  /// and `limits` must outlive the Unpickler.
  Unpickler(const std::vector<uint8_t>& data, const RecordReader& records, const TorchSaveLimits& limits,
            size_t start = 0)
      : d_(data), records_(records), limits_(limits), pos_(start) {}
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;

  /// Empties every value the pickle made that the checked result does not hold, so that no
  /// cycle (APPEND of a list to itself) leaks and no deep chain is destroyed recursively: the
  /// registry holds them all while their children are dropped, then each dies childless.
  ~Unpickler();

  /// Runs to STOP; the value on top of the stack, checked (no cycles, nesting within max_depth).
  core::Result<PyRef> Run();
  /// The byte after the pickle's STOP (after Run).
  size_t end() const { return pos_; }
  /// Storage key -> its flat tensor (what persistent ids named).
  const std::map<std::string, PyRef>& storages() const { return storages_; }

 private:
  PyRef Make(PyValue::Kind kind);
  PyRef MakeString(PyValue::Kind kind, std::string s);
  core::Status Check(const PyRef& root);

  bool Need(size_t n) const { return pos_ <= d_.size() && n <= d_.size() - pos_; }  // no overflow on huge n
  uint64_t ReadLE(size_t n);
  std::string ReadBytes(size_t n);
  bool ReadLine(std::string* out);
  core::Result<PyRef> Pop();
  core::Result<std::vector<PyRef>> PopToMark();
  core::Status PushTuple(std::vector<PyRef> items);
  static void SetItem(const PyRef& dict, PyRef k, PyRef v);

  core::Result<PyRef> PersistentLoad(const PyRef& pid);
  core::Result<PyRef> Call(const PyRef& fn, const PyRef& args, int depth = 0);

  // One opcode (after its byte), by family; Step dispatches.
  core::Status Step(uint8_t op);
  core::Status StepFraming(uint8_t op);    // PROTO FRAME MARK POP POP_MARK DUP
  core::Status StepMemo(uint8_t op);       // PUT BINPUT LONG_BINPUT MEMOIZE GET BINGET LONG_BINGET
  core::Status StepNumber(uint8_t op);     // NONE NEWTRUE NEWFALSE BININT BININT1 BININT2 LONG1 LONG4 BINFLOAT
  core::Status StepString(uint8_t op);     // the string and bytes opcodes
  core::Status StepContainer(uint8_t op);  // EMPTY_* TUPLE* LIST DICT SETITEM(S) APPEND(S)
  core::Status StepObject(uint8_t op);     // GLOBAL STACK_GLOBAL REDUCE NEWOBJ BINPERSID BUILD
  core::Status Unsupported(uint8_t op) const;

  const std::vector<uint8_t>& d_;
  const RecordReader& records_;
  const TorchSaveLimits& limits_;
  size_t pos_ = 0;
  std::vector<PyRef> all_;                   // every value made (see the destructor)
  std::unordered_set<const PyValue*> keep_;  // the values the checked results hold
  std::vector<PyRef> stack_;
  std::vector<size_t> marks_;
  std::map<uint32_t, PyRef> memo_;
  std::map<std::string, PyRef> storages_;
};

}  // namespace landscape::engine
