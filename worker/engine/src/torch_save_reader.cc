// torch.save's two file formats (the zip archive and the legacy stream) around the pickle machine
// (unpickler.h), which turns each pickle into PyValues.
#include "torch_save_reader.h"

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "unpickler.h"
#include "zip_records.h"

namespace landscape::engine {

using core::Result;
using core::Status;
using core::StatusCode;

PyRef PyValue::Get(const std::string& key) const {
  for (const auto& [k, v] : dict)
    if (k && k->kind == Kind::kString && k->s == key) return v;
  return nullptr;
}

Result<PyRef> Unpickle(const std::vector<uint8_t>& pickle,
                       const std::function<Result<std::vector<uint8_t>>(const std::string&)>& records,
                       const TorchSaveLimits& limits) {
  try {
    return Unpickler(pickle, records, limits).Run();
  } catch (const std::exception& e) {
    return TorchSaveCorrupt(e.what());
  }
}

namespace {

Status Corrupt(const std::string& what) { return TorchSaveCorrupt(what); }

// torch.save's legacy format (PyTorch < 1.6, or _use_new_zipfile_serialization=False), as
// torch/serialization.py writes it: pickles of the magic number 0x1950a86a20f9469cfc6c (protocol
// 2: PROTO 2, LONG1 of 10 bytes, STOP), the protocol version 1001, a sys_info dict, the object
// (storages as persistent ids ('storage', type, key, location, numel, view_metadata)), and the
// sorted list of storage keys; then each storage in that order: its element count (int64,
// little-endian) and its bytes.
constexpr uint8_t kLegacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                    0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};

bool IsLegacy(const std::vector<uint8_t>& d) {
  return d.size() >= sizeof kLegacyMagic && std::memcmp(d.data(), kLegacyMagic, sizeof kLegacyMagic) == 0;
}

Result<PyRef> ReadLegacy(const std::vector<uint8_t>& d, const TorchSaveLimits& limits) {
  const RecordReader lazy;  // empty: the storages come after the pickles
  size_t pos = sizeof kLegacyMagic;
  auto next = [&](Unpickler& u) -> Result<PyRef> {
    auto v = u.Run();
    pos = u.end();
    return v;
  };
  Unpickler version_u(d, lazy, limits, pos);
  LS_ASSIGN_OR_RETURN(PyRef version, next(version_u));
  if (version->kind != PyValue::Kind::kInt || version->i != 1001) {
    return Status(StatusCode::kInvalidArgument, "legacy torch.save data of an unknown protocol version");
  }
  Unpickler info_u(d, lazy, limits, pos);
  LS_ASSIGN_OR_RETURN(PyRef info, next(info_u));
  if (PyRef le = info->Get("little_endian"); le && le->kind == PyValue::Kind::kBool && !le->b) {
    return Status(StatusCode::kInvalidArgument, "legacy torch.save data written on a big-endian machine");
  }
  Unpickler object_u(d, lazy, limits, pos);
  LS_ASSIGN_OR_RETURN(PyRef object, next(object_u));
  Unpickler keys_u(d, lazy, limits, pos);
  LS_ASSIGN_OR_RETURN(PyRef keys, next(keys_u));
  if (keys->kind != PyValue::Kind::kList) return Corrupt("the storage keys are not a list");
  for (const PyRef& key : keys->items) {
    if (!key || key->kind != PyValue::Kind::kString) return Corrupt("a storage key is not a string");
    auto it = object_u.storages().find(key->s);
    if (it == object_u.storages().end()) return Corrupt("storage " + key->s + " is not used by the object");
    at::Tensor& t = it->second->tensor;
    if (pos + 8 > d.size()) return Corrupt("storage " + key->s + " is truncated");
    int64_t numel = 0;
    for (int i = 0; i < 8; ++i) numel |= static_cast<int64_t>(d[pos + static_cast<size_t>(i)]) << (8 * i);
    pos += 8;
    if (numel != t.numel()) return Corrupt("storage " + key->s + " has another size than its id says");
    const size_t bytes = static_cast<size_t>(numel) * t.element_size();  // checked against the file's size
    if (bytes > d.size() - pos) return Corrupt("storage " + key->s + " is truncated");
    if (bytes > 0) std::memcpy(t.data_ptr(), d.data() + pos, bytes);
    pos += bytes;
  }
  if (keys->items.size() != object_u.storages().size()) return Corrupt("storages without bytes");
  return object;
}

}  // namespace

bool IsLegacyTorchSave(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<uint8_t> head(sizeof kLegacyMagic);
  f.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
  return f.gcount() == static_cast<std::streamsize>(head.size()) && IsLegacy(head);
}

Result<PyRef> ReadTorchSave(const std::string& path, const TorchSaveLimits& limits) {
  if (!std::filesystem::exists(path)) return core::NotFound(path + ": no such file");
  {
    std::ifstream f(path, std::ios::binary);
    char magic[2] = {0, 0};
    f.read(magic, 2);
    if (magic[0] != 'P' || magic[1] != 'K') {
      // Not a zip: the legacy format, or not a torch.save file at all.
      f.seekg(0);
      std::vector<uint8_t> data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      if (!IsLegacy(data)) {
        return Status(StatusCode::kInvalidArgument, path + ": not a torch.save file (neither its zip format nor "
                                                           "the legacy format of PyTorch < 1.6)");
      }
      try {
        auto r = ReadLegacy(data, limits);
        if (!r.ok()) return r.status().WithContext(path);
        return r;
      } catch (const std::exception& e) {
        return Corrupt(path + ": " + e.what());
      }
    }
  }
  if (Status s = CheckZipRecords(path, limits.max_storage_bytes); !s.ok()) return s.WithContext(path);
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    if (!reader.hasRecord("data.pkl")) {
      return Status(StatusCode::kInvalidArgument, path + ": a zip file without data.pkl (not a torch.save file)");
    }
    auto [pkl_ptr, pkl_size] = reader.getRecord("data.pkl");
    const auto* p = static_cast<const uint8_t*>(pkl_ptr.get());
    std::vector<uint8_t> pickle(p, p + pkl_size);
    auto records = [&reader](const std::string& name) -> Result<std::vector<uint8_t>> {
      if (!reader.hasRecord(name)) return Corrupt("missing record " + name);
      auto [ptr, size] = reader.getRecord(name);
      const auto* b = static_cast<const uint8_t*>(ptr.get());
      return std::vector<uint8_t>(b, b + size);
    };
    auto r = Unpickle(pickle, records, limits);
    if (!r.ok()) return r.status().WithContext(path);
    return r;
  } catch (const std::exception& e) {
    std::string msg = e.what();
    msg = msg.substr(0, msg.find('\n'));
    return Status(StatusCode::kDataLoss, path + ": cannot read the zip archive: " + msg);
  }
}

}  // namespace landscape::engine
