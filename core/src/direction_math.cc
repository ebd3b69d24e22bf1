#include "landscape/core/direction_math.h"

#include <cmath>

#include "landscape/core/rng.h"

namespace landscape::core {

namespace {

int64_t Numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

double Norm2(const float* p, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(p[i]) * static_cast<double>(p[i]);
  return std::sqrt(s);
}

void Scale(float* p, int64_t n, double factor) {
  for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(static_cast<double>(p[i]) * factor);
}

}  // namespace

void NormalizeDirection(const std::vector<int64_t>& shape, const float* theta, float* d, Norm norm, Ignore ignore) {
  const int64_t n = Numel(shape);
  if (shape.size() <= 1) {
    for (int64_t i = 0; i < n; ++i) d[i] = ignore == Ignore::kBiasBN ? 0.0f : theta[i];
    return;
  }
  const int64_t filters = shape[0];
  const int64_t per = filters > 0 ? n / filters : 0;
  switch (norm) {
    case Norm::kFilter:
      for (int64_t k = 0; k < filters; ++k) {
        const double wn = Norm2(theta + k * per, per), dn = Norm2(d + k * per, per);
        Scale(d + k * per, per, wn / (dn + 1e-10));
      }
      break;
    case Norm::kLayer: {
      const double wn = Norm2(theta, n), dn = Norm2(d, n);
      Scale(d, n, dn > 0 ? wn / dn : 0.0);
      break;
    }
    case Norm::kWeight:
      for (int64_t i = 0; i < n; ++i) d[i] = d[i] * theta[i];
      break;
    case Norm::kDFilter:
      for (int64_t k = 0; k < filters; ++k) {
        const double dn = Norm2(d + k * per, per);
        Scale(d + k * per, per, 1.0 / (dn + 1e-10));
      }
      break;
    case Norm::kDLayer: {
      const double dn = Norm2(d, n);
      Scale(d, n, dn > 0 ? 1.0 / dn : 0.0);
      break;
    }
    case Norm::kNone:
      break;
  }
}

std::vector<float> RandomDirection(const std::vector<int64_t>& shape, const float* theta, uint64_t seed, int axis,
                                   int64_t index, Norm norm, Ignore ignore) {
  std::vector<float> d(static_cast<size_t>(Numel(shape)));
  Rng rng = Rng::Stream(seed, static_cast<uint64_t>(axis), static_cast<uint64_t>(index));
  rng.FillGaussian(d.data(), d.size());
  NormalizeDirection(shape, theta, d.data(), norm, ignore);
  return d;
}

double DirectionCosine(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b,
                       const std::vector<std::vector<int64_t>>& shapes) {
  double dot = 0, na = 0, nb = 0;
  for (size_t t = 0; t < a.size() && t < b.size(); ++t) {
    if (t < shapes.size() && shapes[t].empty()) continue;
    for (size_t i = 0; i < a[t].size() && i < b[t].size(); ++i) {
      dot += static_cast<double>(a[t][i]) * b[t][i];
      na += static_cast<double>(a[t][i]) * a[t][i];
      nb += static_cast<double>(b[t][i]) * b[t][i];
    }
  }
  if (na == 0 || nb == 0) return 0.0;
  return dot / std::sqrt(na * nb);
}

}  // namespace landscape::core
