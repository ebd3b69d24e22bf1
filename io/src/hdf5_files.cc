#include "landscape/io/hdf5_files.h"

#include <cstdio>
#include <filesystem>
#include <unistd.h>

#include "hdf5_handle.h"

namespace landscape::io {

namespace h5 {
std::mutex& LibraryMutex() {
  static std::mutex m;
  return m;
}
void Init() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}
}  // namespace h5

namespace {

using core::DataLoss;
using core::NotFound;
using core::StatusCode;

Status Fail(const std::string& path, const std::string& what) {
  return Status(StatusCode::kDataLoss, path + ": " + what);
}

// Caps on what a file (possibly a tenant's upload) may make a reader allocate, checked before
// allocating. A dataset's elements, times the bytes each is read as, at most kMaxArrayBytes; and
// at most kMaxExpansion times the bytes the file stores for it (deflate inflates at most ~1032x;
// a dataset with no stored bytes reads its fill value, so a small one of kMinStoredCheck is allowed).
constexpr uint64_t kMaxArrayBytes = uint64_t{16} << 30;  // max_array_bytes: 16 GiB
constexpr uint64_t kMaxExpansion = 1100;
constexpr uint64_t kMinStoredCheck = uint64_t{1} << 20;
constexpr uint64_t kMaxDirectionTensors = 100000;       // max_direction_tensors, per group
constexpr uint64_t kMaxSurfacePoints = uint64_t{1} << 28;  // max_surface_points: nx * ny

Status OverLimit(const std::string& path, const std::string& limit, uint64_t value, const std::string& what) {
  return Status(StatusCode::kResourceExhausted,
                path + ": over the limit " + limit + " (" + std::to_string(value) + "): " + what);
}

hid_t NativeType(DType t) {
  switch (t) {
    case DType::kFloat32: return H5T_NATIVE_FLOAT;
    case DType::kFloat64: return H5T_NATIVE_DOUBLE;
    case DType::kInt64: return H5T_NATIVE_INT64;
  }
  return H5T_NATIVE_FLOAT;
}

h5::Space MakeSpace(const std::vector<int64_t>& shape) {
  if (shape.empty()) return h5::Space(H5Screate(H5S_SCALAR));
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  return h5::Space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
}

bool WriteArray(hid_t loc, const char* name, const std::vector<int64_t>& shape, DType dtype, const void* data) {
  h5::Space space = MakeSpace(shape);
  if (!space.valid()) return false;
  h5::Dataset ds(H5Dcreate2(loc, name, NativeType(dtype), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!ds.valid()) return false;
  return H5Dwrite(ds.get(), NativeType(dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0;
}

bool WriteDoubles(hid_t loc, const char* name, const std::vector<int64_t>& shape, const std::vector<double>& v) {
  return WriteArray(loc, name, shape, DType::kFloat64, v.data());
}

h5::Type VarString() {
  h5::Type t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t.get(), H5T_VARIABLE);
  H5Tset_cset(t.get(), H5T_CSET_UTF8);
  return t;
}

bool WriteStringDataset(hid_t loc, const char* name, const std::string& value) {
  h5::Type t = VarString();
  h5::Space space(H5Screate(H5S_SCALAR));
  h5::Dataset ds(H5Dcreate2(loc, name, t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!ds.valid()) return false;
  const char* p = value.c_str();
  return H5Dwrite(ds.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &p) >= 0;
}

bool WriteStringAttribute(hid_t loc, const std::string& name, const std::string& value) {
  h5::Type t = VarString();
  h5::Space space(H5Screate(H5S_SCALAR));
  h5::Attribute a(H5Acreate2(loc, name.c_str(), t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!a.valid()) return false;
  const char* p = value.c_str();
  return H5Awrite(a.get(), t.get(), &p) >= 0;
}

// Reads a string stored either as a variable-length or a fixed-length string. Only a single
// string (one element: a read writes one value per element) of at most 1 MiB.
template <typename Obj, typename GetType, typename GetSpace, typename Read>
bool ReadStringImpl(const Obj& obj, GetType get_type, GetSpace get_space, Read read, std::string* out) {
  h5::Space space(get_space(obj.get()));
  if (!space.valid() || H5Sget_simple_extent_npoints(space.get()) != 1) return false;
  h5::Type ftype(get_type(obj.get()));
  if (!ftype.valid() || H5Tget_class(ftype.get()) != H5T_STRING) return false;
  if (H5Tis_variable_str(ftype.get()) > 0) {
    h5::Type mtype = VarString();
    char* p = nullptr;
    if (read(obj.get(), mtype.get(), &p) < 0) return false;
    *out = p ? p : "";
    if (p) H5free_memory(p);
    return true;
  }
  const size_t size = H5Tget_size(ftype.get());
  if (size == 0 || size > (size_t{1} << 20)) return false;
  std::string buf(size + 1, '\0');
  h5::Type mtype(H5Tcopy(H5T_C_S1));
  H5Tset_size(mtype.get(), size);
  if (read(obj.get(), mtype.get(), buf.data()) < 0) return false;
  buf.resize(std::strlen(buf.c_str()));
  *out = buf;
  return true;
}

bool ReadStringDataset(hid_t loc, const char* name, std::string* out) {
  h5::Dataset ds(H5Dopen2(loc, name, H5P_DEFAULT));
  if (!ds.valid()) return false;
  return ReadStringImpl(
      ds, [](hid_t id) { return H5Dget_type(id); }, [](hid_t id) { return H5Dget_space(id); },
      [](hid_t id, hid_t mt, void* buf) { return H5Dread(id, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf); }, out);
}

bool Exists(hid_t loc, const char* name) { return H5Lexists(loc, name, H5P_DEFAULT) > 0; }

struct ArrayInfo {
  std::vector<int64_t> shape;
  uint64_t numel = 1;   // the product of shape, checked for overflow
  uint64_t stored = 0;  // bytes the file holds for the dataset
  H5T_class_t cls = H5T_NO_CLASS;
  size_t size = 0;
};

bool Inspect(hid_t ds, ArrayInfo* info) {
  h5::Space space(H5Dget_space(ds));
  if (!space.valid()) return false;
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > 32) return false;
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0) return false;
  info->numel = 1;
  for (hsize_t d : dims) {
    if (d > static_cast<hsize_t>(INT64_MAX) || __builtin_mul_overflow(info->numel, d, &info->numel)) {
      info->numel = UINT64_MAX;
    }
  }
  info->shape.assign(dims.begin(), dims.end());
  info->stored = H5Dget_storage_size(ds);
  h5::Type t(H5Dget_type(ds));
  info->cls = H5Tget_class(t.get());
  info->size = H5Tget_size(t.get());
  return true;
}

// The dataset `name`, read as elements of `item` bytes, within the caps.
Status CheckSize(const ArrayInfo& info, size_t item, const std::string& name, const std::string& path) {
  uint64_t bytes = 0;
  if (info.numel == UINT64_MAX || __builtin_mul_overflow(info.numel, static_cast<uint64_t>(item), &bytes) ||
      bytes > kMaxArrayBytes) {
    return OverLimit(path, "max_array_bytes", kMaxArrayBytes, "dataset '" + name + "' of shape " +
                                                                  ShapeString(info.shape));
  }
  if (bytes > kMinStoredCheck && bytes / kMaxExpansion > info.stored) {
    return Fail(path, "dataset '" + name + "' of shape " + ShapeString(info.shape) + " declares " +
                          std::to_string(bytes) + " bytes but the file stores " + std::to_string(info.stored));
  }
  return Status::Ok();
}

Result<std::vector<double>> ReadDoubles(hid_t loc, const char* name, const std::string& path,
                                        std::vector<int64_t>* shape_out = nullptr) {
  h5::Dataset ds(H5Dopen2(loc, name, H5P_DEFAULT));
  if (!ds.valid()) return Fail(path, std::string("missing dataset '") + name + "'");
  ArrayInfo info;
  if (!Inspect(ds.get(), &info)) return Fail(path, std::string("cannot inspect '") + name + "'");
  if (info.cls != H5T_FLOAT && info.cls != H5T_INTEGER) {
    return Fail(path, std::string("dataset '") + name + "' is not numeric");
  }
  LS_RETURN_IF_ERROR(CheckSize(info, sizeof(double), name, path));
  const auto n = static_cast<int64_t>(info.numel);
  std::vector<double> v(static_cast<size_t>(n));
  if (n > 0 && H5Dread(ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0) {
    return Fail(path, std::string("cannot read '") + name + "'");
  }
  if (shape_out) *shape_out = info.shape;
  return v;
}

Result<HostArray> ReadHostArray(hid_t loc, const std::string& name, const std::string& path) {
  h5::Dataset ds(H5Dopen2(loc, name.c_str(), H5P_DEFAULT));
  if (!ds.valid()) return Fail(path, "missing dataset '" + name + "'");
  ArrayInfo info;
  if (!Inspect(ds.get(), &info)) return Fail(path, "cannot inspect '" + name + "'");
  DType dtype;
  if (info.cls == H5T_FLOAT) {
    dtype = info.size == 8 ? DType::kFloat64 : DType::kFloat32;
  } else if (info.cls == H5T_INTEGER) {
    dtype = DType::kInt64;
  } else {
    return Fail(path, "dataset '" + name + "' is not numeric");
  }
  LS_RETURN_IF_ERROR(CheckSize(info, dtype == DType::kFloat32 ? 4 : 8, name, path));
  HostArray a = HostArray::Zeros(info.shape, dtype);
  if (a.numel() > 0 && H5Dread(ds.get(), NativeType(dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, a.bytes.data()) < 0) {
    return Fail(path, "cannot read '" + name + "'");
  }
  return a;
}

void ReadStringAttributes(hid_t loc, std::map<std::string, std::string>* out) {
  H5O_info_t oinfo;
#if H5_VERSION_GE(1, 12, 0)
  if (H5Oget_info3(loc, &oinfo, H5O_INFO_NUM_ATTRS) < 0) return;
#else
  if (H5Oget_info2(loc, &oinfo, H5O_INFO_NUM_ATTRS) < 0) return;
#endif
  for (hsize_t i = 0; i < oinfo.num_attrs; ++i) {
    h5::Attribute a(H5Aopen_by_idx(loc, ".", H5_INDEX_CRT_ORDER, H5_ITER_NATIVE, i, H5P_DEFAULT, H5P_DEFAULT));
    if (!a.valid()) continue;
    char name[256] = {0};
    H5Aget_name(a.get(), sizeof name, name);
    std::string value;
    if (ReadStringImpl(
            a, [](hid_t id) { return H5Aget_type(id); }, [](hid_t id) { return H5Aget_space(id); },
            [](hid_t id, hid_t mt, void* buf) { return H5Aread(id, mt, buf); }, &value)) {
      (*out)[name] = value;
    }
  }
}

// Opens an existing file read-only with a clear error.
Result<h5::File> OpenForRead(const std::string& path) {
  if (!std::filesystem::exists(path)) return NotFound(path + ": no such file");
  if (H5Fis_hdf5(path.c_str()) <= 0) return Fail(path, "not an HDF5 file");
  h5::File f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!f.valid()) return Fail(path, "cannot open the HDF5 file");
  return f;
}

std::string TempPathFor(const std::string& path) {
  return path + ".tmp." + std::to_string(static_cast<long>(::getpid()));
}

Status Commit(const std::string& tmp, const std::string& path) {
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return Status(StatusCode::kInternal, "cannot move " + tmp + " to " + path + ": " + ec.message());
  }
  return Status::Ok();
}

bool WriteDirectionGroup(hid_t file, const char* group, const std::vector<HostArray>& arrays) {
  h5::Group g(H5Gcreate2(file, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!g.valid()) return false;
  for (size_t i = 0; i < arrays.size(); ++i) {
    const HostArray& a = arrays[i];
    if (!WriteArray(g.get(), std::to_string(i).c_str(), a.shape, a.dtype, a.bytes.data())) return false;
  }
  return true;
}

Result<std::vector<HostArray>> ReadDirectionGroup(hid_t file, const char* group, const std::string& path) {
  h5::Group g(H5Gopen2(file, group, H5P_DEFAULT));
  if (!g.valid()) return Fail(path, std::string("missing group '") + group + "'");
  H5G_info_t ginfo;
  if (H5Gget_info(g.get(), &ginfo) < 0) return Fail(path, std::string("cannot list '") + group + "'");
  if (ginfo.nlinks > kMaxDirectionTensors) {
    return OverLimit(path, "max_direction_tensors", kMaxDirectionTensors,
                     std::string("group '") + group + "' has " + std::to_string(ginfo.nlinks) + " members");
  }
  std::vector<HostArray> arrays;
  arrays.reserve(ginfo.nlinks);
  for (hsize_t i = 0; i < ginfo.nlinks; ++i) {
    const std::string name = std::to_string(i);
    if (!Exists(g.get(), name.c_str())) {
      return Fail(path, std::string("group '") + group + "' lacks dataset '" + name + "' (expected \"0\".." +
                            std::to_string(ginfo.nlinks - 1) + ")");
    }
    LS_ASSIGN_OR_RETURN(HostArray a, ReadHostArray(g.get(), name, path));
    arrays.push_back(std::move(a));
  }
  return arrays;
}

}  // namespace

Status WriteDirectionFile(const std::string& path, const DirectionSet& dirs) {
  std::lock_guard<std::mutex> lock(h5::LibraryMutex());
  h5::Init();
  const std::string tmp = TempPathFor(path);
  {
    h5::File f(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    if (!f.valid()) return Status(StatusCode::kInternal, "cannot create " + path);
    bool ok = WriteDirectionGroup(f.get(), "xdirection", dirs.x);
    if (ok && dirs.has_y()) ok = WriteDirectionGroup(f.get(), "ydirection", dirs.y);
    if (ok && dirs.pca) {
      const std::vector<int64_t> two{static_cast<int64_t>(dirs.pca->explained_variance_ratio.size())};
      ok = WriteDoubles(f.get(), "explained_variance_ratio_", two, dirs.pca->explained_variance_ratio) &&
           WriteDoubles(f.get(), "singular_values_", two, dirs.pca->singular_values) &&
           WriteDoubles(f.get(), "explained_variance_", two, dirs.pca->explained_variance);
    }
    for (const auto& [k, v] : dirs.attributes) ok = ok && WriteStringAttribute(f.get(), k, v);
    if (!ok) {
      f.reset();
      std::filesystem::remove(tmp);
      return Status(StatusCode::kInternal, "cannot write direction file " + path);
    }
  }
  return Commit(tmp, path);
}

Result<DirectionSet> ReadDirectionFile(const std::string& path) {
  std::lock_guard<std::mutex> lock(h5::LibraryMutex());
  h5::Init();
  LS_ASSIGN_OR_RETURN(h5::File f, OpenForRead(path));
  DirectionSet dirs;
  if (!Exists(f.get(), "xdirection")) return Fail(path, "not a direction file: no 'xdirection' group");
  LS_ASSIGN_OR_RETURN(dirs.x, ReadDirectionGroup(f.get(), "xdirection", path));
  if (Exists(f.get(), "ydirection")) {
    LS_ASSIGN_OR_RETURN(dirs.y, ReadDirectionGroup(f.get(), "ydirection", path));
    if (dirs.y.size() != dirs.x.size()) {
      return Fail(path, "xdirection has " + std::to_string(dirs.x.size()) + " tensors but ydirection has " +
                            std::to_string(dirs.y.size()));
    }
  }
  if (Exists(f.get(), "explained_variance_ratio_")) {
    PcaInfo pca;
    LS_ASSIGN_OR_RETURN(pca.explained_variance_ratio, ReadDoubles(f.get(), "explained_variance_ratio_", path));
    if (Exists(f.get(), "singular_values_")) {
      LS_ASSIGN_OR_RETURN(pca.singular_values, ReadDoubles(f.get(), "singular_values_", path));
    }
    if (Exists(f.get(), "explained_variance_")) {
      LS_ASSIGN_OR_RETURN(pca.explained_variance, ReadDoubles(f.get(), "explained_variance_", path));
    }
    dirs.pca = std::move(pca);
  }
  ReadStringAttributes(f.get(), &dirs.attributes);
  return dirs;
}

std::string Hdf5Version() { return H5_VERS_INFO; }

namespace {

// The surface file's datasets and attributes into an open file (the layout in hdf5_files.h).
bool WriteSurfaceContents(hid_t f, const Surface& s) {
  const auto nx = static_cast<int64_t>(s.nx());
  const auto ny = static_cast<int64_t>(s.ny());
  const std::vector<int64_t> shape = s.is_2d() ? std::vector<int64_t>{ny, nx} : std::vector<int64_t>{nx};
  bool ok = WriteStringDataset(f, "dir_file", s.dir_file) && WriteDoubles(f, "xcoordinates", {nx}, s.x);
  if (ok && s.is_2d()) ok = WriteDoubles(f, "ycoordinates", {ny}, s.y);
  for (const auto& name : s.metric_names) ok = ok && WriteDoubles(f, name.c_str(), shape, s.metrics.at(name));
  if (ok) {
    h5::Space space = MakeSpace(shape);
    h5::Dataset ds(H5Dcreate2(f, "point_done", H5T_NATIVE_UINT8, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    ok = ds.valid() && H5Dwrite(ds.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, s.done.data()) >= 0;
  }
  for (const auto& [k, v] : s.attributes) ok = ok && WriteStringAttribute(f, k, v);
  return ok;
}

}  // namespace

Status WriteSurfaceFile(const std::string& path, const Surface& s) {
  std::lock_guard<std::mutex> lock(h5::LibraryMutex());
  h5::Init();
  const std::string tmp = TempPathFor(path);
  {
    h5::File f(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    if (!f.valid()) return Status(StatusCode::kInternal, "cannot create " + path);
    if (!WriteSurfaceContents(f.get(), s)) {
      f.reset();
      std::filesystem::remove(tmp);
      return Status(StatusCode::kInternal, "cannot write surface file " + path);
    }
  }
  return Commit(tmp, path);
}

Result<std::string> SurfaceFileImage(const Surface& s) {
  std::lock_guard<std::mutex> lock(h5::LibraryMutex());
  h5::Init();
  const Status failed(StatusCode::kInternal, "cannot build the surface file in memory");
  // The core driver keeps the file in memory (no backing store); the name only identifies it.
  h5::Plist fapl(H5Pcreate(H5P_FILE_ACCESS));
  if (!fapl.valid() || H5Pset_fapl_core(fapl.get(), 1 << 20, 0) < 0) return failed;
  h5::File f(H5Fcreate("surface-image.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()));
  if (!f.valid() || !WriteSurfaceContents(f.get(), s) || H5Fflush(f.get(), H5F_SCOPE_GLOBAL) < 0) return failed;
  const ssize_t size = H5Fget_file_image(f.get(), nullptr, 0);
  if (size <= 0) return failed;
  std::string bytes(static_cast<size_t>(size), '\0');
  if (H5Fget_file_image(f.get(), bytes.data(), bytes.size()) != size) return failed;
  return bytes;
}

Result<Surface> ReadSurfaceFile(const std::string& path) {
  std::lock_guard<std::mutex> lock(h5::LibraryMutex());
  h5::Init();
  LS_ASSIGN_OR_RETURN(h5::File f, OpenForRead(path));
  Surface s;
  if (!Exists(f.get(), "xcoordinates")) return Fail(path, "not a surface file: no 'xcoordinates' dataset");
  LS_ASSIGN_OR_RETURN(s.x, ReadDoubles(f.get(), "xcoordinates", path));
  if (Exists(f.get(), "ycoordinates")) {
    LS_ASSIGN_OR_RETURN(s.y, ReadDoubles(f.get(), "ycoordinates", path));
  }
  if (s.x.empty() || (Exists(f.get(), "ycoordinates") && s.y.empty())) return Fail(path, "empty coordinates");
  if (uint64_t points = 0; __builtin_mul_overflow(static_cast<uint64_t>(s.nx()), static_cast<uint64_t>(s.ny()), &points) ||
                           points > kMaxSurfacePoints) {
    return OverLimit(path, "max_surface_points", kMaxSurfacePoints,
                     std::to_string(s.nx()) + " x " + std::to_string(s.ny()) + " coordinates");
  }
  if (Exists(f.get(), "dir_file")) ReadStringDataset(f.get(), "dir_file", &s.dir_file);
  static const char* kKnown[] = {"train_loss", "train_acc", "test_loss", "test_acc", "min_eig", "max_eig"};
  for (const char* name : kKnown) {
    if (!Exists(f.get(), name)) continue;
    std::vector<int64_t> shape;
    LS_ASSIGN_OR_RETURN(std::vector<double> v, ReadDoubles(f.get(), name, path, &shape));
    if (v.size() != s.PointCount()) {
      return Fail(path, std::string("dataset '") + name + "' has shape " + ShapeString(shape) + ", expected " +
                            std::to_string(s.PointCount()) + " values for the coordinates");
    }
    s.metric_names.emplace_back(name);
    s.metrics[name] = std::move(v);
  }
  if (Exists(f.get(), "point_done")) {
    h5::Dataset ds(H5Dopen2(f.get(), "point_done", H5P_DEFAULT));
    ArrayInfo info;
    if (!ds.valid() || !Inspect(ds.get(), &info)) return Fail(path, "cannot inspect 'point_done'");
    if (info.numel != s.PointCount()) {  // H5Dread fills as many values as the dataset has
      return Fail(path, "dataset 'point_done' has shape " + ShapeString(info.shape) + ", expected " +
                            std::to_string(s.PointCount()) + " values for the coordinates");
    }
    s.done.assign(s.PointCount(), 0);
    if (H5Dread(ds.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, s.done.data()) < 0) {
      return Fail(path, "cannot read 'point_done'");
    }
  } else {
    // A reference file: a point is finished when its loss (or max_eig) is > 0.
    s.done.assign(s.PointCount(), 0);
    const char* key = s.Has("train_loss") ? "train_loss" : (s.Has("test_loss") ? "test_loss" : "max_eig");
    if (s.Has(key)) {
      const auto& v = s.metrics.at(key);
      for (size_t i = 0; i < v.size(); ++i) s.done[i] = v[i] > 0 ? 1 : 0;
    }
  }
  ReadStringAttributes(f.get(), &s.attributes);
  return s;
}

Status WriteProjectionFile(const std::string& path, const Projection& p) {
  std::lock_guard<std::mutex> lock(h5::LibraryMutex());
  h5::Init();
  const std::string tmp = TempPathFor(path);
  {
    h5::File f(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    if (!f.valid()) return Status(StatusCode::kInternal, "cannot create " + path);
    const auto n = static_cast<int64_t>(p.x.size());
    bool ok = WriteDoubles(f.get(), "proj_xcoord", {n}, p.x) && WriteDoubles(f.get(), "proj_ycoord", {n}, p.y);
    for (const auto& [k, v] : p.extra) {
      ok = ok && WriteDoubles(f.get(), k.c_str(), {static_cast<int64_t>(v.size())}, v);
    }
    if (!ok) {
      f.reset();
      std::filesystem::remove(tmp);
      return Status(StatusCode::kInternal, "cannot write projection file " + path);
    }
  }
  return Commit(tmp, path);
}

Result<Projection> ReadProjectionFile(const std::string& path) {
  std::lock_guard<std::mutex> lock(h5::LibraryMutex());
  h5::Init();
  LS_ASSIGN_OR_RETURN(h5::File f, OpenForRead(path));
  Projection p;
  LS_ASSIGN_OR_RETURN(p.x, ReadDoubles(f.get(), "proj_xcoord", path));
  LS_ASSIGN_OR_RETURN(p.y, ReadDoubles(f.get(), "proj_ycoord", path));
  if (p.x.size() != p.y.size()) return Fail(path, "proj_xcoord and proj_ycoord differ in length");
  static const char* kExtra[] = {"distance_from_plane", "relative_distance", "loss_true", "loss_projected",
                                 "acc_true", "acc_projected", "epochs"};
  for (const char* name : kExtra) {
    if (!Exists(f.get(), name)) continue;
    LS_ASSIGN_OR_RETURN(p.extra[name], ReadDoubles(f.get(), name, path));
  }
  return p;
}

}  // namespace landscape::io
