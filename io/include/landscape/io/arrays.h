// Host-side n-d arrays: the Torch-free currency between the engine and files.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace landscape::io {

enum class DType { kFloat32, kFloat64, kInt64 };

const char* DTypeName(DType t);
size_t DTypeSize(DType t);

/// A dense row-major array with its shape (shape {} is a 0-D scalar).
struct HostArray {
  std::vector<int64_t> shape;
  DType dtype = DType::kFloat32;
  std::vector<uint8_t> bytes;

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  template <typename T>
  T* data() {
    return reinterpret_cast<T*>(bytes.data());
  }
  template <typename T>
  const T* data() const {
    return reinterpret_cast<const T*>(bytes.data());
  }
  /// Element i converted to double.
  double At(int64_t i) const;

  static HostArray Zeros(std::vector<int64_t> shape, DType dtype);
  static HostArray FromFloats(std::vector<int64_t> shape, const std::vector<float>& v);
};

std::string ShapeString(const std::vector<int64_t>& shape);

}  // namespace landscape::io
