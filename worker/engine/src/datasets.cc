#include "datasets.h"

#include <ATen/ATen.h>
#include <ATen/core/Dict.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include "landscape/core/rng.h"
#include "landscape/engine/engine.h"
#include "idx_reader.h"
#include "model_io.h"
#include "torch_save_reader.h"

namespace landscape::engine {

using core::DataSource;
using core::Result;
using core::Status;
using core::StatusCode;
namespace fs = std::filesystem;

std::string DefaultDataRoot() { return kDefaultDataRoot; }

namespace {

Status DataError(const std::string& msg) { return Status(StatusCode::kInvalidArgument, msg, "data"); }

// The samples of a split that are used: the first `count`, or the sorted seeded
// subset `indices`. Loaders of raw formats convert only these samples, so a
// sample limit also limits memory.
struct Selection {
  int64_t total = 0;
  int64_t count = 0;
  std::vector<int64_t> indices;  // empty: the first `count`
  int64_t At(int64_t i) const { return indices.empty() ? i : indices[static_cast<size_t>(i)]; }
};

Selection Select(int64_t total, const core::DataSpec& spec) {
  Selection sel;
  sel.total = total;
  sel.count = total;
  if (spec.max_samples > 0 && spec.max_samples < total) {
    sel.count = spec.max_samples;
    if (spec.subset_seed) sel.indices = core::SampleIndices(total, spec.max_samples, *spec.subset_seed);
  }
  return sel;
}

// Applies a selection to tensors held whole (tensor files, synthetic data).
void ApplySelection(Dataset* d, const Selection& sel) {
  if (sel.count == sel.total) {
    d->images = d->images.contiguous();
    d->labels = d->labels.contiguous();
    return;
  }
  if (sel.indices.empty()) {
    d->images = d->images.narrow(0, 0, sel.count).clone();
    d->labels = d->labels.narrow(0, 0, sel.count).clone();
  } else {
    at::Tensor index = at::from_blob(const_cast<int64_t*>(sel.indices.data()), {sel.count}, at::kLong).clone();
    d->images = d->images.index_select(0, index);
    d->labels = d->labels.index_select(0, index);
  }
}

std::string FindIdxFile(const std::string& dir, const std::string& prefix, const std::string& what) {
  for (const char* sep : {"-", "."}) {
    for (const char* ext : {"", ".gz"}) {
      const std::string name = prefix + "-" + what + sep + (what == "images" ? "idx3" : "idx1") + "-ubyte" + ext;
      if (fs::exists(fs::path(dir) / name)) return (fs::path(dir) / name).string();
    }
  }
  return {};
}

// IDX: images magic 0x00000803 [N, rows, cols] uint8; labels 0x00000801 [N] uint8.
Result<Dataset> LoadIdx(const std::string& dir, bool train, const core::DataSpec& spec) {
  const std::string prefix = train ? "train" : "t10k";
  const std::string images_path = FindIdxFile(dir, prefix, "images");
  const std::string labels_path = FindIdxFile(dir, prefix, "labels");
  if (images_path.empty() || labels_path.empty()) {
    return Status(StatusCode::kNotFound, "no IDX " + std::string(train ? "train" : "test") + " files in " + dir +
                                             " (expected " + prefix + "-images-idx3-ubyte[.gz] and " + prefix +
                                             "-labels-idx1-ubyte[.gz])",
                  "data");
  }
  // The headers first (their sizes checked against the caps), then only the bytes up to the last
  // sample used: the first 2,000 of 60,000 images need 3 % of the file decompressed.
  LS_ASSIGN_OR_RETURN(auto img_file, IdxReader::Open(images_path, 3));
  LS_ASSIGN_OR_RETURN(auto lab_file, IdxReader::Open(labels_path, 1));
  const int64_t n = img_file->dims()[0], rows = img_file->dims()[1], cols = img_file->dims()[2];
  const int64_t nl = lab_file->dims()[0];
  if (n != nl) return DataError(images_path + " has " + std::to_string(n) + " images but the labels file " +
                                std::to_string(nl));
  const Selection sel = Select(n, spec);
  const int64_t used = sel.indices.empty() ? sel.count : (sel.count > 0 ? sel.indices.back() + 1 : 0);
  LS_ASSIGN_OR_RETURN(std::vector<uint8_t> img, img_file->ReadItems(used));
  LS_ASSIGN_OR_RETURN(std::vector<uint8_t> lab, lab_file->ReadItems(used));
  const int64_t per = rows * cols;
  Dataset d;
  d.images = at::empty({sel.count, 1, rows, cols}, at::kFloat);
  d.labels = at::empty({sel.count}, at::kLong);
  float* out = d.images.data_ptr<float>();
  int64_t* l = d.labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < sel.count; ++i) {
    const int64_t k = sel.At(i);
    const uint8_t* src = img.data() + k * per;
    for (int64_t j = 0; j < per; ++j) out[i * per + j] = static_cast<float>(src[j]) / 255.0f;
    l[i] = lab[static_cast<size_t>(k)];
  }
  d.total = n;
  return d;
}

// CIFAR-10 binary: records of 1 label byte + 3072 bytes (R, G, B planes of 32x32).
Result<Dataset> LoadCifar10(const std::string& location, bool train, const core::DataSpec& spec) {
  std::string dir = location;
  if (!fs::exists(fs::path(dir) / "test_batch.bin") && fs::exists(fs::path(dir) / "cifar-10-batches-bin")) {
    dir = (fs::path(dir) / "cifar-10-batches-bin").string();
  }
  std::vector<std::string> files;
  if (train) {
    for (int i = 1; i <= 5; ++i) files.push_back((fs::path(dir) / ("data_batch_" + std::to_string(i) + ".bin")).string());
  } else {
    files.push_back((fs::path(dir) / "test_batch.bin").string());
  }
  std::vector<uint8_t> all;
  for (const auto& f : files) {
    if (!fs::exists(f)) {
      return Status(StatusCode::kNotFound, "CIFAR-10: missing " + f + " (expected data_batch_1..5.bin, test_batch.bin)",
                    "data");
    }
    LS_ASSIGN_OR_RETURN(auto bytes, ReadMaybeGzip(f));
    LS_RETURN_IF_ERROR(CheckCifarBatch(bytes, f));
    all.insert(all.end(), bytes.begin(), bytes.end());
  }
  const int64_t n = static_cast<int64_t>(all.size() / 3073);
  const Selection sel = Select(n, spec);
  Dataset d;
  d.images = at::empty({sel.count, 3, 32, 32}, at::kFloat);
  d.labels = at::empty({sel.count}, at::kLong);
  float* out = d.images.data_ptr<float>();
  int64_t* l = d.labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < sel.count; ++i) {
    const uint8_t* rec = all.data() + sel.At(i) * 3073;
    l[i] = rec[0];
    for (int64_t j = 0; j < 3072; ++j) out[i * 3072 + j] = static_cast<float>(rec[1 + j]) / 255.0f;
  }
  d.total = n;
  return d;
}

Result<Dataset> LoadTensorFile(const std::string& path, bool train) {
  LS_ASSIGN_OR_RETURN(PyRef root, ReadTorchSave(path));
  if (root->kind != PyValue::Kind::kDict) return DataError(path + ": expected a dict {\"images\", \"labels\"}");
  PyRef holder = root;
  // Optional per-split dicts: {"train": {...}, "test": {...}}.
  if (PyRef split = root->Get(train ? "train" : "test"); split && split->kind == PyValue::Kind::kDict) holder = split;
  PyRef images, labels;
  for (const char* k : {"images", "x", "data", "inputs"})
    if (!images) images = holder->Get(k);
  for (const char* k : {"labels", "y", "targets"})
    if (!labels) labels = holder->Get(k);
  if (!images || images->kind != PyValue::Kind::kTensor || !labels || labels->kind != PyValue::Kind::kTensor) {
    return DataError(path + ": expected tensors under \"images\" and \"labels\"");
  }
  Dataset d;
  d.images = images->tensor;
  d.labels = labels->tensor;
  // [N, H, W] are one-channel images; [N, D] feature vectors (tabular data, or token ids when the
  // tensor holds integers) and [N, C, H, W] (or more dimensions) reach the model as they are.
  if (d.images.dim() == 3 && at::isFloatingType(d.images.scalar_type())) d.images = d.images.unsqueeze(1);
  if (d.images.dim() == 3 && d.images.scalar_type() == at::kByte) d.images = d.images.unsqueeze(1);
  if (d.images.dim() < 2) {
    return DataError(path + ": inputs must be [N, D] features, [N, H, W] or [N, C, H, W] images, got " +
                     std::to_string(d.images.dim()) + " dimension(s)");
  }
  // Integer class labels [N], or float regression targets [N] / [N, K] (for --loss regression).
  const bool targets = at::isFloatingType(d.labels.scalar_type());
  if (d.labels.dim() < 1 || d.labels.size(0) != d.images.size(0) || (!targets && d.labels.dim() != 1)) {
    return DataError(path + ": labels must be [N] class indices (or float targets [N, K]) with N = " +
                     std::to_string(d.images.size(0)));
  }
  if (at::isIntegralType(d.images.scalar_type(), /*includeBool=*/false) && d.images.scalar_type() != at::kByte) {
    // Integer inputs other than image bytes are indices (token ids for an embedding): kept as int64.
    d.images = d.images.to(at::kLong);
  } else if (d.images.scalar_type() == at::kByte) {
    // The IDX and CIFAR-10 loaders' formula, so that a packed directory gives their values bit for bit
    // (ATen's division by a scalar may round differently).
    const at::Tensor bytes = d.images.contiguous();
    d.images = at::empty(bytes.sizes(), at::kFloat);
    const uint8_t* src = bytes.data_ptr<uint8_t>();
    float* out = d.images.data_ptr<float>();
    for (int64_t i = 0; i < bytes.numel(); ++i) out[i] = static_cast<float>(src[i]) / 255.0f;
  } else {
    d.images = d.images.to(at::kFloat);
  }
  d.labels = d.labels.to(targets ? at::kFloat : at::kLong);
  return d;
}

Status Normalize(Dataset* d, const core::Normalization& norm, const std::vector<double>& auto_mean,
                 const std::vector<double>& auto_std) {
  std::vector<double> mean, stdev;
  if (norm.mode == core::Normalization::Mode::kNone) return Status::Ok();
  if (norm.mode == core::Normalization::Mode::kAuto) {
    mean = auto_mean;
    stdev = auto_std;
  } else {
    mean = norm.mean;
    stdev = norm.std;
  }
  if (mean.empty()) return Status::Ok();
  if (!at::isFloatingType(d->images.scalar_type())) {
    return core::InvalidArgument("data.normalize", "the inputs are integers (indices), which are not normalized: "
                                                   "use --normalize none");
  }
  const int64_t c = d->images.size(1);
  if (mean.size() == 1) {
    mean.assign(static_cast<size_t>(c), mean[0]);
    stdev.assign(static_cast<size_t>(c), stdev[0]);
  }
  if (static_cast<int64_t>(mean.size()) != c) {
    return core::InvalidArgument("data.normalize", "gives " + std::to_string(mean.size()) +
                                                 " channel means but the images have " + std::to_string(c) +
                                                 " channels");
  }
  for (int64_t ch = 0; ch < c; ++ch) {
    d->images.select(1, ch).sub_(mean[static_cast<size_t>(ch)]).div_(stdev[static_cast<size_t>(ch)]);
  }
  return Status::Ok();
}

}  // namespace

// The reference's CIFAR-10 normalization (what "auto" means for cifar10: directories).
const std::vector<double> kCifar10Mean = {125.3 / 255, 123.0 / 255, 113.9 / 255};
const std::vector<double> kCifar10Std = {63.0 / 255, 62.1 / 255, 66.7 / 255};

Result<Dataset> LoadDatasetSplit(const core::DataSpec& spec, bool train, const std::string& data_root) {
  LS_ASSIGN_OR_RETURN(DataSource src, core::ParseDataSource(spec.source, "data.source"));
  LS_ASSIGN_OR_RETURN(core::Normalization norm, core::ParseNormalization(spec.normalize));
  try {
    Dataset d;
    std::vector<double> mean, stdev;
    switch (src.kind) {
      case DataSource::Kind::kFashionMnist:
      case DataSource::Kind::kMnist: {
        const bool fashion = src.kind == DataSource::Kind::kFashionMnist;
        const std::string dir = (fs::path(data_root) / (fashion ? "fashion-mnist" : "mnist")).string();
        auto r = LoadIdx(dir, train, spec);
        if (!r.ok()) {
          return Status(StatusCode::kNotFound,
                        r.status().message() + (fashion ? " (install Debian's dataset-fashion-mnist, or give "
                                                          "--data-root or LANDSCAPE_DATA_DIR)"
                                                        : " (put the MNIST IDX files in " + dir +
                                                              ", or give --data-root or LANDSCAPE_DATA_DIR)"),
                        "data");
        }
        d = std::move(*r);
        mean = {fashion ? 0.2860 : 0.1307};
        stdev = {fashion ? 0.3530 : 0.3081};
        break;
      }
      case DataSource::Kind::kIdx: {
        LS_ASSIGN_OR_RETURN(d, LoadIdx(src.location, train, spec));
        break;
      }
      case DataSource::Kind::kCifar10: {
        LS_ASSIGN_OR_RETURN(d, LoadCifar10(src.location, train, spec));
        mean = kCifar10Mean;
        stdev = kCifar10Std;
        break;
      }
      case DataSource::Kind::kTensor: {
        LS_ASSIGN_OR_RETURN(d, LoadTensorFile(src.location, train));
        d.total = d.size();
        ApplySelection(&d, Select(d.total, spec));
        break;
      }
      case DataSource::Kind::kSynthetic: {
        d.images = at::empty({src.synthetic_n, src.synthetic_c, src.synthetic_h, src.synthetic_w}, at::kFloat);
        d.labels = at::empty({src.synthetic_n}, at::kLong);
        core::Rng rng = core::Rng::Stream(0x5917, 1);
        rng.FillGaussian(d.images.data_ptr<float>(), static_cast<size_t>(d.images.numel()));
        int64_t* l = d.labels.data_ptr<int64_t>();
        for (int64_t i = 0; i < src.synthetic_n; ++i) {
          l[i] = static_cast<int64_t>(rng.Below(static_cast<uint64_t>(src.synthetic_classes)));
        }
        d.total = d.size();
        ApplySelection(&d, Select(d.total, spec));
        break;
      }
    }
    const int64_t total = d.total;
    if (d.size() == 0) return DataError(spec.source + ": the " + (train ? "train" : "test") + " split is empty");
    LS_RETURN_IF_ERROR(Normalize(&d, norm, mean, stdev));
    if (!at::isFloatingType(d.labels.scalar_type())) {  // class indices (float targets may be anything finite)
      const int64_t min_label = d.labels.min().item<int64_t>();
      if (min_label < 0) return DataError(spec.source + ": negative label " + std::to_string(min_label));
    } else if (!at::isfinite(d.labels).all().item<bool>()) {
      return DataError(spec.source + ": the regression targets hold NaN or infinite values");
    }
    d.description = core::DataSourceToString(src) + " " + (train ? "train" : "test") + " (" +
                    std::to_string(d.size()) + " of " + std::to_string(total) + " samples)";
    return d;
  } catch (const std::exception& e) {
    return Status(StatusCode::kInvalidArgument, spec.source + ": " + FirstLine(e), "data");
  }
}

Result<PackedData> PackDataset(const core::DataSpec& spec, const std::string& out_path, const std::string& data_root) {
  LS_ASSIGN_OR_RETURN(DataSource src, core::ParseDataSource(spec.source, "data.source"));
  if (src.kind != DataSource::Kind::kIdx && src.kind != DataSource::Kind::kCifar10) {
    return core::InvalidArgument("data.source", "only idx: and cifar10: directories are packed, not '" + spec.source + "'");
  }
  LS_ASSIGN_OR_RETURN(core::Normalization norm, core::ParseNormalization(spec.normalize));
  PackedData packed;
  packed.normalize = spec.normalize;
  if (norm.mode == core::Normalization::Mode::kAuto) {
    // The directory's "auto" statistics, written out: a tensor file's "auto" is no normalization.
    if (src.kind == DataSource::Kind::kCifar10) {
      auto join = [](const std::vector<double>& v) {
        std::string t;
        char buf[32];
        for (double x : v) {
          std::snprintf(buf, sizeof buf, "%.17g", x);
          t += (t.empty() ? "" : ",") + std::string(buf);
        }
        return t;
      };
      packed.normalize = join(kCifar10Mean) + "/" + join(kCifar10Std);
    } else {
      packed.normalize = "none";
    }
  }
  core::DataSpec raw = spec;
  raw.normalize = "none";
  try {
    c10::impl::GenericDict root(c10::StringType::get(), c10::AnyType::get());
    for (bool train : {true, false}) {
      if (train ? spec.split == core::Split::kTest : spec.split == core::Split::kTrain) continue;
      const std::string root_dir = data_root.empty() ? DefaultDataRoot() : data_root;
      LS_ASSIGN_OR_RETURN(Dataset d, LoadDatasetSplit(raw, train, root_dir));
      // The loaders give v / 255 for each byte v: ×255 and rounding gives v back exactly.
      c10::impl::GenericDict split(c10::StringType::get(), c10::AnyType::get());
      split.insert("images", d.images.mul_(255.0f).round_().to(at::kByte).contiguous());
      split.insert("labels", d.labels.contiguous());
      root.insert(train ? "train" : "test", split);
      packed.splits.push_back(std::string(train ? "train" : "test") + " " + std::to_string(d.size()) + " of " +
                              std::to_string(d.total));
      packed.samples += d.size();
    }
    const std::vector<char> bytes = torch::jit::pickle_save(root);
    std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) return Status(StatusCode::kInternal, "cannot write " + out_path);
    packed.bytes = static_cast<int64_t>(bytes.size());
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, "cannot pack " + spec.source + ": " + FirstLine(e));
  }
  return packed;
}

}  // namespace landscape::engine
