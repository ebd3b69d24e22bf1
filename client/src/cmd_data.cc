// `landscape pack-data` and the packing `submit` does: an idx:/cifar10: directory's evaluated samples as
// one tensor file, for workers that cannot see the directory.
#include <cstdio>
#include <filesystem>

#include "commands.h"
#include "exit_codes.h"
#include "landscape/engine/engine.h"

namespace landscape::client {

namespace {

std::string Describe(const engine::PackedData& p) {
  std::string splits;
  for (const auto& s : p.splits) splits += (splits.empty() ? "" : ", ") + s;
  char size[48];
  std::snprintf(size, sizeof size, "%.1f MB", static_cast<double>(p.bytes) / 1e6);
  return splits + " samples; " + size;
}

}  // namespace

core::Status PackSpecData(core::JobSpec* spec, const std::string& path) {
  LS_ASSIGN_OR_RETURN(core::DataSource src, core::ParseDataSource(spec->data.source, "--data"));
  src.location = std::filesystem::absolute(src.location).string();
  const std::string from = core::DataSourceToString(src);
  LS_ASSIGN_OR_RETURN(engine::PackedData packed, engine::PackDataset(spec->data, path));
  // Provenance, since the spec now names a file: where the samples came from and how they were chosen.
  std::string label = from;
  if (spec->data.max_samples > 0) label += " max_samples=" + std::to_string(spec->data.max_samples);
  if (spec->data.subset_seed) label += " subset_seed=" + std::to_string(*spec->data.subset_seed);
  if (label.size() > 1024) label = "..." + label.substr(label.size() - 1021);  // a label's limit
  spec->labels["data_packed_from"] = label;
  spec->data.source = "tensor:" + path;
  spec->data.normalize = packed.normalize;
  spec->data.max_samples = 0;
  spec->data.subset_seed.reset();
  std::fprintf(stderr, "landscape: packed %s (%s) for upload\n", from.c_str(), Describe(packed).c_str());
  return core::Status::Ok();
}

int RunPackData(const PackDataOptions& o) {
  if (o.out.empty()) return Report(core::InvalidArgument("--out", "a tensor file to write is required"));
  auto packed = engine::PackDataset(o.data, o.out);
  if (!packed.ok()) return Report(packed.status());
  std::fprintf(stderr, "landscape: wrote %s (%s)\n", o.out.c_str(), Describe(*packed).c_str());
  // What gives the directory's values from the file (its selection is already applied).
  std::printf("--data %s --normalize %s\n", o.out.c_str(), packed->normalize.c_str());
  return kExitOk;
}

}  // namespace landscape::client
