// Grids of (alpha, beta) coordinates and their tiling.
//
// Coordinates are raw multipliers of the stored directions. "MIN:MAX:NUM" means
// NUM points from MIN to MAX, both ends included (numpy.linspace semantics,
// bit for bit). A 2-D surface is stored row-major with row = y: flat index
// k = iy * nx + ix (the reference's meshgrid order, right for non-square grids).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "landscape/core/status.h"

namespace landscape::core {

/// One axis: `num` points from `min` to `max` inclusive.
struct AxisSpec {
  double min = -1.0;
  double max = 1.0;
  int64_t num = 51;

  /// numpy.linspace(min, max, num): c[i] = min + i * step, c[num-1] = max exactly.
  std::vector<double> Coordinates() const;
  /// "MIN:MAX:NUM" with the shortest round-tripping decimal for MIN and MAX.
  std::string ToString() const;
  bool operator==(const AxisSpec& o) const { return min == o.min && max == o.max && num == o.num; }
};

/// Parses "MIN:MAX:NUM". Rejects NaN/inf, NUM < 1, MIN > MAX and an empty range
/// (MIN == MAX with NUM > 1). `field` names the flag or spec field for errors.
Result<AxisSpec> ParseAxis(std::string_view text, std::string_view field);

/// Checks an axis already in struct form (from JSON or protobuf).
Status ValidateAxis(const AxisSpec& axis, std::string_view field);

/// A 1-D (x only) or 2-D (x and y) grid.
struct GridSpec {
  AxisSpec x;
  std::optional<AxisSpec> y;

  bool is_2d() const { return y.has_value(); }
  int64_t nx() const { return x.num; }
  int64_t ny() const { return y ? y->num : 1; }
  int64_t PointCount() const { return nx() * ny(); }

  struct Point {
    int64_t ix = 0;
    int64_t iy = 0;
    double alpha = 0.0;
    double beta = 0.0;
  };
  /// The point with flat index k (row = y). For 1-D grids iy = 0 and beta = 0.
  Point PointAt(int64_t k, const std::vector<double>& xs, const std::vector<double>& ys) const;

  bool operator==(const GridSpec& o) const { return x == o.x && y == o.y; }
};

Status ValidateGrid(const GridSpec& grid, int64_t max_points, std::string_view field = "grid");

/// A contiguous run of flat point indices [begin, end): the unit of work.
struct Tile {
  int64_t index = 0;
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
};

/// Splits the grid's flat indices into tiles of `tile_size` points (the last may be smaller).
std::vector<Tile> PlanTiles(int64_t point_count, int64_t tile_size);

/// A tile size that gives every worker several tiles and keeps the per-tile
/// overhead small: about sqrt(points), between 1 and 256.
int64_t DefaultTileSize(int64_t point_count);

}  // namespace landscape::core
