// RAII over HDF5 C handles (hid_t), and the one mutex that serialises every
// HDF5 call: Debian's serial HDF5 library is not thread-safe.
#pragma once

#include <hdf5.h>

#include <mutex>
#include <string>
#include <utility>

namespace landscape::io::h5 {

std::mutex& LibraryMutex();
/// Turns off HDF5's own error printing (we report errors ourselves). Idempotent.
void Init();

template <herr_t (*Close)(hid_t)>
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  ~Handle() { reset(); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, -1)) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, -1);
    }
    return *this;
  }
  void reset() {
    if (id_ >= 0) Close(id_);
    id_ = -1;
  }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
};

using File = Handle<H5Fclose>;
using Group = Handle<H5Gclose>;
using Dataset = Handle<H5Dclose>;
using Space = Handle<H5Sclose>;
using Type = Handle<H5Tclose>;
using Attribute = Handle<H5Aclose>;
using Plist = Handle<H5Pclose>;

}  // namespace landscape::io::h5
