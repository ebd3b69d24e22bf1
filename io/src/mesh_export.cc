#include "landscape/io/mesh_export.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "landscape/io/summary.h"
#include "landscape/io/surface_views.h"

namespace landscape::io {

namespace {

std::vector<double> Linspace(double lo, double hi, int n) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[i] = n == 1 ? lo : lo + (hi - lo) * i / (n - 1);
  if (n > 1) v.back() = hi;
  return v;
}

std::string Num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Text for one comment line: no line breaks, and (XML) no "--".
std::string CommentText(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n' || c == '\r') c = ' ';
    if (c == '-' && !out.empty() && out.back() == '-') out += ' ';
    out += c;
  }
  return out;
}

// One VTK string array in ASCII: each byte as a number, the string ended by 0.
std::string VtkStringArray(const std::string& name, const std::string& value) {
  std::string out = "      <DataArray type=\"String\" Name=\"" + XmlEscape(name) +
                    "\" NumberOfTuples=\"1\" format=\"ascii\">\n        ";
  for (unsigned char c : value) out += std::to_string(static_cast<int>(c)) + " ";
  out += "0\n      </DataArray>\n";
  return out;
}

// Writes values six to a line, as VTK's own writer does.
void AppendValues(std::string* out, const std::vector<double>& v, const char* indent) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (i % 6 == 0) *out += indent;
    *out += Num(v[i]);
    *out += (i % 6 == 5 || i + 1 == v.size()) ? "\n" : " ";
  }
}

std::pair<double, double> Range(const std::vector<double>& v) {
  if (v.empty()) return {0, 0};
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return {*lo, *hi};
}

}  // namespace

size_t Mesh::ValidCellCount() const {
  size_t n = 0;
  for (size_t iy = 0; iy + 1 < ny(); ++iy) {
    for (size_t ix = 0; ix + 1 < nx(); ++ix) {
      const size_t k = iy * nx() + ix;
      n += (valid[k] && valid[k + 1] && valid[k + nx()] && valid[k + nx() + 1]) ? 1 : 0;
    }
  }
  return n;
}

std::vector<double> CubicSpline(const std::vector<double>& xs, const std::vector<double>& ys,
                                const std::vector<double>& at) {
  const size_t n = xs.size();
  // Second derivatives m with m[0] = m[n-1] = 0 (natural), by the tridiagonal
  // (Thomas) algorithm on h[i-1] m[i-1] + 2 (h[i-1] + h[i]) m[i] + h[i] m[i+1] = 6 (d[i] - d[i-1]).
  std::vector<double> m(n, 0.0);
  if (n > 2) {
    std::vector<double> h(n - 1), d(n - 1);
    for (size_t i = 0; i + 1 < n; ++i) {
      h[i] = xs[i + 1] - xs[i];
      d[i] = (ys[i + 1] - ys[i]) / h[i];
    }
    // Forward elimination over the interior rows 1..n-2 (row i's lower and
    // row i-1's upper coefficient are both h[i-1]).
    std::vector<double> diag(n, 0.0), rhs(n, 0.0);
    for (size_t i = 1; i + 1 < n; ++i) {
      diag[i] = 2 * (h[i - 1] + h[i]);
      rhs[i] = 6 * (d[i] - d[i - 1]);
      if (i > 1) {
        const double w = h[i - 1] / diag[i - 1];
        diag[i] -= w * h[i - 1];
        rhs[i] -= w * rhs[i - 1];
      }
    }
    for (size_t i = n - 2; i >= 1; --i) {
      m[i] = (rhs[i] - h[i] * m[i + 1]) / diag[i];
    }
  }
  std::vector<double> out(at.size());
  for (size_t j = 0; j < at.size(); ++j) {
    const double t = std::clamp(at[j], xs.front(), xs.back());
    size_t i = static_cast<size_t>(std::upper_bound(xs.begin(), xs.end(), t) - xs.begin());
    i = std::clamp<size_t>(i, 1, n - 1) - 1;  // segment [xs[i], xs[i+1]]
    const double h = xs[i + 1] - xs[i];
    const double a = (xs[i + 1] - t) / h, b = (t - xs[i]) / h;
    out[j] = a * ys[i] + b * ys[i + 1] + ((a * a * a - a) * m[i] + (b * b * b - b) * m[i + 1]) * h * h / 6.0;
  }
  return out;
}

std::vector<double> ResampleBicubic(const std::vector<double>& x, const std::vector<double>& y,
                                    const std::vector<double>& z, const std::vector<double>& xo,
                                    const std::vector<double>& yo) {
  const size_t nx = x.size(), ny = y.size(), mx = xo.size(), my = yo.size();
  // Along x, every original row.
  std::vector<double> rows(ny * mx);
  for (size_t iy = 0; iy < ny; ++iy) {
    const std::vector<double> row(z.begin() + iy * nx, z.begin() + (iy + 1) * nx);
    const std::vector<double> r = CubicSpline(x, row, xo);
    std::copy(r.begin(), r.end(), rows.begin() + iy * mx);
  }
  // Along y, every new column.
  std::vector<double> out(my * mx);
  std::vector<double> col(ny);
  for (size_t jx = 0; jx < mx; ++jx) {
    for (size_t iy = 0; iy < ny; ++iy) col[iy] = rows[iy * mx + jx];
    const std::vector<double> c = CubicSpline(y, col, yo);
    for (size_t jy = 0; jy < my; ++jy) out[jy * mx + jx] = c[jy];
  }
  return out;
}

core::Result<Mesh> BuildMesh(const Surface& s, const MeshOptions& opts) {
  if (!s.is_2d()) {
    return core::InvalidArgument("surface", "a 3-D export needs a 2-D surface (this one has only x coordinates)");
  }
  if (s.nx() < 2 || s.ny() < 2) {
    return core::InvalidArgument("surface", "a 3-D export needs at least 2 points along x and along y");
  }
  if (opts.interp == 1 || opts.interp < 0) {
    return core::InvalidArgument("--interp", "must be 0 (no resampling) or at least 2");
  }
  if (!std::isfinite(opts.zmax) || opts.zmax < 0) {
    return core::InvalidArgument("--zmax", "must be a finite number > 0 (or 0: no clipping)");
  }
  Mesh mesh;
  const std::string metric = opts.metric.empty() ? PrimaryMetric(s) : opts.metric;
  LS_ASSIGN_OR_RETURN(std::vector<double> z, MetricValues(s, metric));
  mesh.x = s.x;
  mesh.y = s.y;
  if (opts.interp > 0) {
    const size_t bad = static_cast<size_t>(std::count_if(z.begin(), z.end(), [](double v) { return !std::isfinite(v); }));
    if (bad > 0) {
      return core::InvalidArgument("--interp", "cannot resample a surface with " + std::to_string(bad) +
                                                   " missing or non-finite values of " + metric +
                                                   "; export it without --interp");
    }
    for (const auto* c : {&s.x, &s.y}) {
      for (size_t i = 1; i < c->size(); ++i) {
        if (!((*c)[i] > (*c)[i - 1])) {
          return core::InvalidArgument("--interp", "coordinates must be strictly increasing to resample");
        }
      }
    }
    mesh.x = Linspace(s.x.front(), s.x.back(), opts.interp);
    mesh.y = Linspace(s.y.front(), s.y.back(), opts.interp);
    z = ResampleBicubic(s.x, s.y, z, mesh.x, mesh.y);
  }
  mesh.metric = metric;
  if (opts.zmax > 0) {
    for (double& v : z) {
      if (v > opts.zmax) v = opts.zmax;
    }
    mesh.metric += "_zmax=" + ScalarNumber(opts.zmax);
  }
  if (opts.log) {
    for (double& v : z) v = std::log(v + 0.1);  // NaN below -0.1: marked invalid below
    mesh.metric += "_log";
  }
  mesh.valid.assign(z.size(), 0);
  double lowest = std::numeric_limits<double>::infinity();
  for (size_t k = 0; k < z.size(); ++k) {
    if (std::isfinite(z[k])) {
      mesh.valid[k] = 1;
      lowest = std::min(lowest, z[k]);
    }
  }
  if (!std::isfinite(lowest)) {
    return core::InvalidArgument("surface", "no finite value of " + metric + " to export");
  }
  for (size_t k = 0; k < z.size(); ++k) {
    if (!mesh.valid[k]) z[k] = lowest;
  }
  mesh.z = std::move(z);
  mesh.labels = SurfaceLabels(s);
  return mesh;
}

core::Status WriteVtp(const std::string& path, const Mesh& mesh) {
  const size_t nx = mesh.nx(), ny = mesh.ny(), np = nx * ny;
  std::vector<double> cell_z;
  std::vector<size_t> quads;
  for (size_t iy = 0; iy + 1 < ny; ++iy) {
    for (size_t ix = 0; ix + 1 < nx; ++ix) {
      const size_t k = iy * nx + ix;
      const size_t q[4] = {k, k + 1, k + nx + 1, k + nx};
      if (!(mesh.valid[q[0]] && mesh.valid[q[1]] && mesh.valid[q[2]] && mesh.valid[q[3]])) continue;
      quads.insert(quads.end(), q, q + 4);
      cell_z.push_back((mesh.z[q[0]] + mesh.z[q[1]] + mesh.z[q[2]] + mesh.z[q[3]]) / 4.0);
    }
  }
  const size_t nc = cell_z.size();
  std::string t;
  t.reserve(np * 80 + nc * 40 + 4096);
  t += "<?xml version=\"1.0\"?>\n";
  std::string comment = "landscape: " + mesh.metric + " of " + mesh.source;
  for (const auto& [k, v] : mesh.labels) comment += "; " + k + "=" + v;
  t += "<!-- " + XmlEscape(CommentText(comment)) + " -->\n";
  t += "<VTKFile type=\"PolyData\" version=\"1.0\" byte_order=\"LittleEndian\" header_type=\"UInt64\">\n";
  t += "  <PolyData>\n";
  t += "    <FieldData>\n";
  t += VtkStringArray("metric", mesh.metric);
  t += VtkStringArray("source", mesh.source);
  for (const auto& [k, v] : mesh.labels) t += VtkStringArray("label_" + k, v);
  t += "    </FieldData>\n";
  t += "    <Piece NumberOfPoints=\"" + std::to_string(np) +
       "\" NumberOfVerts=\"0\" NumberOfLines=\"0\" NumberOfStrips=\"0\" NumberOfPolys=\"" + std::to_string(nc) +
       "\">\n";
  const auto [zlo, zhi] = Range(mesh.z);
  t += "      <PointData Scalars=\"zvalue\">\n";
  t += "        <DataArray type=\"Float64\" Name=\"zvalue\" NumberOfComponents=\"1\" format=\"ascii\" RangeMin=\"" +
       Num(zlo) + "\" RangeMax=\"" + Num(zhi) + "\">\n";
  AppendValues(&t, mesh.z, "          ");
  t += "        </DataArray>\n";
  t += "        <DataArray type=\"UInt8\" Name=\"valid\" NumberOfComponents=\"1\" format=\"ascii\">\n";
  for (size_t k = 0; k < np; ++k) {
    if (k % 20 == 0) t += "          ";
    t += mesh.valid[k] ? "1" : "0";
    t += (k % 20 == 19 || k + 1 == np) ? "\n" : " ";
  }
  t += "        </DataArray>\n";
  t += "      </PointData>\n";
  const auto [clo, chi] = Range(cell_z);
  t += "      <CellData Scalars=\"averaged zvalue\">\n";
  t += "        <DataArray type=\"Float64\" Name=\"averaged zvalue\" NumberOfComponents=\"1\" format=\"ascii\" "
       "RangeMin=\"" + Num(clo) + "\" RangeMax=\"" + Num(chi) + "\">\n";
  AppendValues(&t, cell_z, "          ");
  t += "        </DataArray>\n";
  t += "      </CellData>\n";
  t += "      <Points>\n";
  t += "        <DataArray type=\"Float64\" Name=\"Points\" NumberOfComponents=\"3\" format=\"ascii\">\n";
  for (size_t iy = 0; iy < ny; ++iy) {
    for (size_t ix = 0; ix < nx; ++ix) {
      t += "          " + Num(mesh.x[ix]) + " " + Num(mesh.y[iy]) + " " + Num(mesh.z[iy * nx + ix]) + "\n";
    }
  }
  t += "        </DataArray>\n";
  t += "      </Points>\n";
  for (const char* empty : {"Verts", "Lines", "Strips"}) {
    t += std::string("      <") + empty + ">\n";
    t += "        <DataArray type=\"Int64\" Name=\"connectivity\" format=\"ascii\">\n        </DataArray>\n";
    t += "        <DataArray type=\"Int64\" Name=\"offsets\" format=\"ascii\">\n        </DataArray>\n";
    t += std::string("      </") + empty + ">\n";
  }
  t += "      <Polys>\n";
  t += "        <DataArray type=\"Int64\" Name=\"connectivity\" format=\"ascii\">\n";
  for (size_t c = 0; c < nc; ++c) {
    t += "          " + std::to_string(quads[4 * c]) + " " + std::to_string(quads[4 * c + 1]) + " " +
         std::to_string(quads[4 * c + 2]) + " " + std::to_string(quads[4 * c + 3]) + "\n";
  }
  t += "        </DataArray>\n";
  t += "        <DataArray type=\"Int64\" Name=\"offsets\" format=\"ascii\">\n";
  for (size_t c = 0; c < nc; ++c) {
    if (c % 6 == 0) t += "          ";
    t += std::to_string(4 * (c + 1));
    t += (c % 6 == 5 || c + 1 == nc) ? "\n" : " ";
  }
  t += "        </DataArray>\n";
  t += "      </Polys>\n";
  t += "    </Piece>\n";
  t += "  </PolyData>\n";
  t += "</VTKFile>\n";
  return WriteTextFile(path, t);
}

core::Status WriteObj(const std::string& path, const Mesh& mesh) {
  const size_t nx = mesh.nx(), ny = mesh.ny();
  std::string t;
  t.reserve(nx * ny * 60 + 1024);
  t += "# landscape surface mesh: z = " + mesh.metric + "\n";
  if (!mesh.source.empty()) t += "# source: " + CommentText(mesh.source) + "\n";
  for (const auto& [k, v] : mesh.labels) t += "# label " + CommentText(k + "=" + v) + "\n";
  t += "# " + std::to_string(nx) + " x " + std::to_string(ny) + " vertices (row = y), " +
       std::to_string(mesh.ValidCellCount()) + " quads\n";
  t += "o landscape_surface\n";
  for (size_t iy = 0; iy < ny; ++iy) {
    for (size_t ix = 0; ix < nx; ++ix) {
      t += "v " + Num(mesh.x[ix]) + " " + Num(mesh.y[iy]) + " " + Num(mesh.z[iy * nx + ix]) + "\n";
    }
  }
  for (size_t iy = 0; iy + 1 < ny; ++iy) {
    for (size_t ix = 0; ix + 1 < nx; ++ix) {
      const size_t k = iy * nx + ix;
      if (!(mesh.valid[k] && mesh.valid[k + 1] && mesh.valid[k + nx] && mesh.valid[k + nx + 1])) continue;
      // OBJ indices are 1-based; counter-clockwise seen from +z.
      t += "f " + std::to_string(k + 1) + " " + std::to_string(k + 2) + " " + std::to_string(k + nx + 2) + " " +
           std::to_string(k + nx + 1) + "\n";
    }
  }
  return WriteTextFile(path, t);
}

}  // namespace landscape::io
