#include "landscape/core/grid.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace landscape::core {

std::vector<double> AxisSpec::Coordinates() const {
  std::vector<double> c;
  if (num <= 0) return c;
  c.resize(static_cast<size_t>(num));
  if (num == 1) {
    c[0] = min;
    return c;
  }
  // numpy: step = (stop - start) / div; y = arange(num) * step + start; y[-1] = stop.
  const double step = (max - min) / static_cast<double>(num - 1);
  for (int64_t i = 0; i < num; ++i) c[static_cast<size_t>(i)] = static_cast<double>(i) * step + min;
  c.back() = max;
  return c;
}

namespace {
std::string ShortestDouble(double v) {
  char buf[64];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

bool ParseDouble(std::string_view s, double* out) {
  std::string str(s);
  if (str.empty()) return false;
  char* end = nullptr;
  *out = std::strtod(str.c_str(), &end);
  return end == str.c_str() + str.size();
}

bool ParseCount(std::string_view s, int64_t* out) {
  // Accept "51" and, like the reference's users write, "51.0"; reject "51.5".
  double d;
  if (!ParseDouble(s, &d) || !std::isfinite(d) || d != std::floor(d) || d > 1e12) return false;
  *out = static_cast<int64_t>(d);
  return true;
}
}  // namespace

std::string AxisSpec::ToString() const {
  return ShortestDouble(min) + ":" + ShortestDouble(max) + ":" + std::to_string(num);
}

Status ValidateAxis(const AxisSpec& a, std::string_view field) {
  const std::string f(field);
  if (!std::isfinite(a.min) || !std::isfinite(a.max)) {
    return InvalidArgument(f, "range bounds must be finite numbers (got " + ShortestDouble(a.min) + ":" +
                                  ShortestDouble(a.max) + ")");
  }
  if (a.num < 1) return InvalidArgument(f, "the number of points must be at least 1 (got " + std::to_string(a.num) + ")");
  if (a.min > a.max) {
    return InvalidArgument(f, "MIN must not exceed MAX (got " + a.ToString() + ")");
  }
  if (a.num > 1 && a.min == a.max) {
    return InvalidArgument(f, "empty range: MIN equals MAX with " + std::to_string(a.num) + " points");
  }
  return Status::Ok();
}

Result<AxisSpec> ParseAxis(std::string_view text, std::string_view field) {
  const std::string f(field);
  std::vector<std::string_view> parts;
  size_t start = 0;
  // Split on ':' (a leading '-' is part of the number, not a separator).
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == ':') {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  if (parts.size() != 3) {
    return InvalidArgument(f, "expected MIN:MAX:NUM (e.g. -1:1:51), got '" + std::string(text) + "'");
  }
  AxisSpec a;
  if (!ParseDouble(parts[0], &a.min)) return InvalidArgument(f, "MIN '" + std::string(parts[0]) + "' is not a number");
  if (!ParseDouble(parts[1], &a.max)) return InvalidArgument(f, "MAX '" + std::string(parts[1]) + "' is not a number");
  if (!ParseCount(parts[2], &a.num)) {
    return InvalidArgument(f, "NUM '" + std::string(parts[2]) + "' is not a whole number");
  }
  LS_RETURN_IF_ERROR(ValidateAxis(a, field));
  return a;
}

GridSpec::Point GridSpec::PointAt(int64_t k, const std::vector<double>& xs, const std::vector<double>& ys) const {
  Point p;
  p.ix = k % nx();
  p.iy = k / nx();
  p.alpha = xs[static_cast<size_t>(p.ix)];
  p.beta = is_2d() ? ys[static_cast<size_t>(p.iy)] : 0.0;
  return p;
}

Status ValidateGrid(const GridSpec& grid, int64_t max_points, std::string_view field) {
  const std::string f(field);
  LS_RETURN_IF_ERROR(ValidateAxis(grid.x, f + ".x"));
  if (grid.y) LS_RETURN_IF_ERROR(ValidateAxis(*grid.y, f + ".y"));
  const double points = static_cast<double>(grid.nx()) * static_cast<double>(grid.ny());
  if (max_points > 0 && points > static_cast<double>(max_points)) {
    return Status(StatusCode::kResourceExhausted,
                  "the grid has " + std::to_string(static_cast<long long>(points)) + " points, over the limit of " +
                      std::to_string(max_points),
                  f);
  }
  return Status::Ok();
}

std::vector<Tile> PlanTiles(int64_t point_count, int64_t tile_size) {
  std::vector<Tile> tiles;
  if (point_count <= 0) return tiles;
  tile_size = std::max<int64_t>(1, tile_size);
  for (int64_t b = 0, i = 0; b < point_count; b += tile_size, ++i) {
    tiles.push_back(Tile{i, b, std::min(point_count, b + tile_size)});
  }
  return tiles;
}

int64_t DefaultTileSize(int64_t point_count) {
  const auto s = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(std::max<int64_t>(1, point_count)))));
  return std::clamp<int64_t>(s, 1, 256);
}

}  // namespace landscape::core
