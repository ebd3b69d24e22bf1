#include "landscape/io/arrays.h"

namespace landscape::io {

const char* DTypeName(DType t) {
  switch (t) {
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
    case DType::kInt64: return "int64";
  }
  return "?";
}

size_t DTypeSize(DType t) { return t == DType::kFloat32 ? 4 : 8; }

double HostArray::At(int64_t i) const {
  switch (dtype) {
    case DType::kFloat32: return data<float>()[i];
    case DType::kFloat64: return data<double>()[i];
    case DType::kInt64: return static_cast<double>(data<int64_t>()[i]);
  }
  return 0.0;
}

HostArray HostArray::Zeros(std::vector<int64_t> shape, DType dtype) {
  HostArray a;
  a.shape = std::move(shape);
  a.dtype = dtype;
  a.bytes.assign(static_cast<size_t>(a.numel()) * DTypeSize(dtype), 0);
  return a;
}

HostArray HostArray::FromFloats(std::vector<int64_t> shape, const std::vector<float>& v) {
  HostArray a = Zeros(std::move(shape), DType::kFloat32);
  std::memcpy(a.bytes.data(), v.data(), a.bytes.size());
  return a;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace landscape::io
