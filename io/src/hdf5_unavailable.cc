// HDF5 files in builds without the HDF5 library (LANDSCAPE_WITH_HDF5=OFF, only
// for benchmark builds against a foreign LibTorch, bench/gpu.sh): every file
// operation says so; the in-memory parts (surface.cc) work as usual.
#include "landscape/io/hdf5_files.h"

namespace landscape::io {

namespace {
Status Unavailable(const std::string& path) {
  return Status(core::StatusCode::kUnimplemented, path + ": this build has no HDF5 support (LANDSCAPE_WITH_HDF5=OFF)");
}
}  // namespace

std::string Hdf5Version() { return "none"; }

Status WriteDirectionFile(const std::string& path, const DirectionSet&) { return Unavailable(path); }
Result<DirectionSet> ReadDirectionFile(const std::string& path) { return Unavailable(path); }
Status WriteSurfaceFile(const std::string& path, const Surface&) { return Unavailable(path); }
Result<std::string> SurfaceFileImage(const Surface&) { return Unavailable("surface file"); }
Result<Surface> ReadSurfaceFile(const std::string& path) { return Unavailable(path); }
Status WriteProjectionFile(const std::string& path, const Projection&) { return Unavailable(path); }
Result<Projection> ReadProjectionFile(const std::string& path) { return Unavailable(path); }

}  // namespace landscape::io
