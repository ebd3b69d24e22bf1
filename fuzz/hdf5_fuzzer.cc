// Our readers of HDF5 direction files (LANDSCAPE_FUZZ_HDF5_DIRECTION) and surface files
// (LANDSCAPE_FUZZ_HDF5_SURFACE). The input describes a file, which is written through HDF5's API
// to a scratch file and read back: what is fuzzed is our reading of the objects a file may hold
// (names, kinds, shapes, declared sizes with no data, strings of any shape), not HDF5's own
// parser of the file format (not ours to fix).
#include <fuzzer/FuzzedDataProvider.h>
#include <hdf5.h>

#include "fuzz_util.h"
#include "landscape/io/hdf5_files.h"

namespace {

const char* const kNames[] = {
    "xdirection/0",    "xdirection/1",      "xdirection/2",       "ydirection/0",     "ydirection/1",
    "xdirection/x",    "xdirection",        "ydirection",         "explained_variance_ratio_", "singular_values_",
    "explained_variance_", "xcoordinates",  "ycoordinates",       "train_loss",       "train_acc",
    "test_loss",       "test_acc",          "min_eig",            "max_eig",          "point_done",
    "dir_file",        "proj_xcoord",
};

// Writes one dataset (or a group, or an attribute of the root) as `fdp` says.
void WriteObject(hid_t file, FuzzedDataProvider& fdp) {
  const char* name = kNames[fdp.ConsumeIntegralInRange<size_t>(0, std::size(kNames) - 1)];
  const int kind = fdp.ConsumeIntegralInRange(0, 8);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  if (kind == 8) {  // a group where a dataset is expected
    hid_t g = H5Gcreate2(file, name, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (g >= 0) H5Gclose(g);
    H5Pclose(lcpl);
    return;
  }
  const int rank = fdp.ConsumeIntegralInRange(0, 3);
  hsize_t dims[3] = {1, 1, 1};
  const bool huge = fdp.ConsumeBool() && fdp.ConsumeBool();  // a declared size with no data behind it
  for (int i = 0; i < rank; ++i) {
    dims[i] = huge ? (hsize_t{1} << fdp.ConsumeIntegralInRange(10, 40)) : fdp.ConsumeIntegralInRange<hsize_t>(0, 6);
  }
  hsize_t numel = 1;
  for (int i = 0; i < rank; ++i) numel *= dims[i];
  hid_t type = -1;
  switch (kind) {
    case 0: type = H5Tcopy(H5T_NATIVE_FLOAT); break;
    case 1: type = H5Tcopy(H5T_NATIVE_DOUBLE); break;
    case 2: type = H5Tcopy(H5T_NATIVE_INT64); break;
    case 3: type = H5Tcopy(H5T_NATIVE_UINT8); break;
    case 4: type = H5Tcopy(H5T_NATIVE_INT16); break;
    case 5:
      type = H5Tcopy(H5T_C_S1);
      H5Tset_size(type, H5T_VARIABLE);
      break;
    case 6:
      type = H5Tcopy(H5T_C_S1);
      H5Tset_size(type, fdp.ConsumeIntegralInRange<size_t>(1, 40));
      break;
    default: type = H5Tcopy(H5T_NATIVE_CHAR); break;
  }
  hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, nullptr);
  const bool attribute = fdp.ConsumeIntegralInRange(0, 5) == 0;
  if (attribute && !huge) {
    hid_t a = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
      if (kind == 5) {
        std::vector<std::string> strs(numel);
        std::vector<const char*> ptrs(numel);
        for (hsize_t i = 0; i < numel; ++i) ptrs[i] = (strs[i] = fdp.ConsumeRandomLengthString(16)).c_str();
        if (numel > 0) H5Awrite(a, type, ptrs.data());
      } else {
        std::vector<uint8_t> buf(numel * H5Tget_size(type));
        if (!buf.empty()) {
          fdp.ConsumeData(buf.data(), buf.size());
          H5Awrite(a, type, buf.data());
        }
      }
      H5Aclose(a);
    }
  } else {
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (huge) {  // chunked, never written: the file stores nothing for it
      hsize_t chunk[3] = {1, 1, 1};
      H5Pset_chunk(dcpl, rank == 0 ? 1 : rank, chunk);
    }
    hid_t ds = (huge && rank == 0) ? -1 : H5Dcreate2(file, name, type, space, lcpl, dcpl, H5P_DEFAULT);
    if (ds >= 0) {
      if (!huge && numel > 0) {
        if (kind == 5) {
          std::vector<std::string> strs(numel);
          std::vector<const char*> ptrs(numel);
          for (hsize_t i = 0; i < numel; ++i) ptrs[i] = (strs[i] = fdp.ConsumeRandomLengthString(16)).c_str();
          H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data());
        } else {
          std::vector<uint8_t> buf(numel * H5Tget_size(type));  // numel > 0
          fdp.ConsumeData(buf.data(), buf.size());
          H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
        }
      }
      H5Dclose(ds);
    }
    H5Pclose(dcpl);
  }
  H5Sclose(space);
  H5Tclose(type);
  H5Pclose(lcpl);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace landscape;
  static fuzz::ScratchFile file(".h5");
  static const bool quiet = [] { return H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr) >= 0; }();
  (void)quiet;
  FuzzedDataProvider fdp(data, size);
  {
    hid_t f = H5Fcreate(file.path().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) std::abort();
    const int objects = fdp.ConsumeIntegralInRange(0, 12);
    for (int i = 0; i < objects && fdp.remaining_bytes() > 0; ++i) WriteObject(f, fdp);
    H5Fclose(f);
  }
#if defined(LANDSCAPE_FUZZ_HDF5_DIRECTION)
  auto r = io::ReadDirectionFile(file.path());
  if (!r.ok()) {
    fuzz::ExpectInputError(r.status());
    return 0;
  }
  if (r->has_y() && r->y.size() != r->x.size()) std::abort();
  for (const auto* group : {&r->x, &r->y}) {
    for (const io::HostArray& a : *group) {
      const size_t item = a.dtype == io::DType::kFloat32 ? 4 : 8;
      if (a.bytes.size() != static_cast<size_t>(a.numel()) * item) std::abort();
    }
  }
#else
  auto r = io::ReadSurfaceFile(file.path());
  if (!r.ok()) {
    fuzz::ExpectInputError(r.status());
    return 0;
  }
  if (r->done.size() != r->PointCount()) std::abort();
  for (const auto& [name, values] : r->metrics) {
    if (values.size() != r->PointCount()) std::abort();
  }
#endif
  return 0;
}
