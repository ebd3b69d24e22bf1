#include "landscape/core/spec.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace landscape::core {

namespace {

template <typename E, size_t N>
using NameTable = std::array<std::pair<E, const char*>, N>;

constexpr NameTable<DirType, 2> kDirTypes{{{DirType::kWeights, "weights"}, {DirType::kStates, "states"}}};
constexpr NameTable<Norm, 6> kNorms{{{Norm::kFilter, "filter"},
                                     {Norm::kLayer, "layer"},
                                     {Norm::kWeight, "weight"},
                                     {Norm::kDFilter, "dfilter"},
                                     {Norm::kDLayer, "dlayer"},
                                     {Norm::kNone, "none"}}};
constexpr NameTable<Ignore, 2> kIgnores{{{Ignore::kBiasBN, "biasbn"}, {Ignore::kNone, "none"}}};
constexpr NameTable<Loss, 3> kLosses{
    {{Loss::kCrossEntropy, "crossentropy"}, {Loss::kMse, "mse"}, {Loss::kRegression, "regression"}}};
constexpr NameTable<Split, 3> kSplits{{{Split::kTrain, "train"}, {Split::kTest, "test"}, {Split::kBoth, "both"}}};
constexpr NameTable<DirectionKind, 4> kKinds{{{DirectionKind::kRandom, "random"},
                                              {DirectionKind::kTarget, "target"},
                                              {DirectionKind::kFile, "file"},
                                              {DirectionKind::kPca, "pca"}}};

template <typename E, size_t N>
const char* Lookup(const NameTable<E, N>& table, E v) {
  for (const auto& [e, name] : table)
    if (e == v) return name;
  return "?";
}

template <typename E, size_t N>
Result<E> ParseName(const NameTable<E, N>& table, std::string_view s, std::string_view field) {
  for (const auto& [e, name] : table)
    if (s == name) return e;
  std::string choices;
  for (const auto& [e, name] : table) choices += (choices.empty() ? "" : "|") + std::string(name);
  return InvalidArgument(std::string(field), "unknown value '" + std::string(s) + "' (expected " + choices + ")");
}

}  // namespace

const char* Name(DirType v) { return Lookup(kDirTypes, v); }
const char* Name(Norm v) { return Lookup(kNorms, v); }
const char* Name(Ignore v) { return Lookup(kIgnores, v); }
const char* Name(Loss v) { return Lookup(kLosses, v); }
const char* Name(Split v) { return Lookup(kSplits, v); }
const char* Name(DirectionKind v) { return Lookup(kKinds, v); }

Result<DirType> ParseDirType(std::string_view s, std::string_view f) { return ParseName(kDirTypes, s, f); }
Result<Norm> ParseNorm(std::string_view s, std::string_view f) {
  if (s.empty()) return Norm::kNone;  // the reference's '' means "no normalization"
  return ParseName(kNorms, s, f);
}
Result<Ignore> ParseIgnore(std::string_view s, std::string_view f) {
  if (s.empty()) return Ignore::kNone;  // the reference's ''
  return ParseName(kIgnores, s, f);
}
Result<Loss> ParseLoss(std::string_view s, std::string_view f) {
  if (s == "cross_entropy" || s == "ce") return Loss::kCrossEntropy;
  return ParseName(kLosses, s, f);
}
Result<Split> ParseSplit(std::string_view s, std::string_view f) { return ParseName(kSplits, s, f); }
Result<DirectionKind> ParseDirectionKind(std::string_view s, std::string_view f) { return ParseName(kKinds, s, f); }

namespace {
bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool EndsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}
}  // namespace

Result<DataSource> ParseDataSource(std::string_view text, std::string_view field) {
  const std::string f(field);
  DataSource s;
  if (text == "fashion-mnist" || text == "fashion_mnist" || text == "fmnist") {
    s.kind = DataSource::Kind::kFashionMnist;
  } else if (text == "mnist") {
    s.kind = DataSource::Kind::kMnist;
  } else if (StartsWith(text, "idx:")) {
    s.kind = DataSource::Kind::kIdx;
    s.location = std::string(text.substr(4));
  } else if (StartsWith(text, "cifar10:")) {
    s.kind = DataSource::Kind::kCifar10;
    s.location = std::string(text.substr(8));
  } else if (StartsWith(text, "tensor:")) {
    s.kind = DataSource::Kind::kTensor;
    s.location = std::string(text.substr(7));
  } else if (StartsWith(text, "synthetic:")) {
    s.kind = DataSource::Kind::kSynthetic;
    const std::string rest(text.substr(10));
    long long n = 0, c = 0, h = 0, w = 0, classes = 10;
    char extra = 0;
    const int got = std::sscanf(rest.c_str(), "%lld:%lldx%lldx%lld:%lld%c", &n, &c, &h, &w, &classes, &extra);
    if ((got != 4 && got != 5) || n < 1 || c < 1 || h < 1 || w < 1 || classes < 2 || n > 10'000'000 ||
        c * h * w > 10'000'000) {
      return InvalidArgument(f, "expected synthetic:N:CxHxW[:CLASSES] (e.g. synthetic:50000:3x32x32), got '" +
                                    std::string(text) + "'");
    }
    s.synthetic_n = n;
    s.synthetic_c = c;
    s.synthetic_h = h;
    s.synthetic_w = w;
    s.synthetic_classes = classes;
    s.location = rest;
  } else if (EndsWith(text, ".pt") || EndsWith(text, ".pth") || StartsWith(text, "artifact:")) {
    s.kind = DataSource::Kind::kTensor;
    s.location = std::string(text);
  } else {
    return InvalidArgument(f, "unknown data set '" + std::string(text) +
                                  "' (expected fashion-mnist, mnist, idx:DIR, cifar10:DIR, tensor:FILE or FILE.pt)");
  }
  if ((s.kind == DataSource::Kind::kIdx || s.kind == DataSource::Kind::kCifar10 ||
       s.kind == DataSource::Kind::kTensor) &&
      s.location.empty()) {
    return InvalidArgument(f, "'" + std::string(text) + "' names no location");
  }
  return s;
}

std::string DataSourceToString(const DataSource& s) {
  switch (s.kind) {
    case DataSource::Kind::kFashionMnist: return "fashion-mnist";
    case DataSource::Kind::kMnist: return "mnist";
    case DataSource::Kind::kIdx: return "idx:" + s.location;
    case DataSource::Kind::kCifar10: return "cifar10:" + s.location;
    case DataSource::Kind::kTensor: return "tensor:" + s.location;
    case DataSource::Kind::kSynthetic: return "synthetic:" + s.location;
  }
  return "?";
}

namespace {
bool ParseDoubleList(std::string_view s, std::vector<double>* out) {
  out->clear();
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == ',') {
      std::string item(s.substr(start, i - start));
      char* end = nullptr;
      const double v = std::strtod(item.c_str(), &end);
      if (item.empty() || end != item.c_str() + item.size() || !std::isfinite(v)) return false;
      out->push_back(v);
      start = i + 1;
    }
  }
  return !out->empty();
}
}  // namespace

Result<Normalization> ParseNormalization(std::string_view text, std::string_view field) {
  Normalization n;
  if (text == "auto" || text.empty()) return n;
  n.mode = Normalization::Mode::kNone;
  if (text == "none") return n;
  const auto slash = text.find('/');
  n.mode = Normalization::Mode::kCustom;
  if (slash == std::string_view::npos || !ParseDoubleList(text.substr(0, slash), &n.mean) ||
      !ParseDoubleList(text.substr(slash + 1), &n.std) || n.mean.size() != n.std.size()) {
    return InvalidArgument(std::string(field), "expected auto, none or MEAN[,MEAN..]/STD[,STD..] with as many "
                                               "means as standard deviations, got '" + std::string(text) + "'");
  }
  for (double sd : n.std) {
    if (!(sd > 0)) return InvalidArgument(std::string(field), "standard deviations must be positive");
  }
  return n;
}

std::vector<std::string> JobSpec::MetricNames() const {
  std::vector<std::string> names;
  if (compute_loss) {
    const bool acc = loss != Loss::kRegression;  // regression targets have no accuracy
    if (evaluates_train()) {
      names.emplace_back("train_loss");
      if (acc) names.emplace_back("train_acc");
    }
    if (evaluates_test()) {
      names.emplace_back("test_loss");
      if (acc) names.emplace_back("test_acc");
    }
  }
  if (hessian.enabled) {
    names.emplace_back("min_eig");
    names.emplace_back("max_eig");
  }
  return names;
}

JobSpec WithDirectionFile(const JobSpec& spec, const std::string& dir_file) {
  JobSpec s = spec;
  s.directions.kind = DirectionKind::kFile;
  s.directions.file = dir_file;
  s.directions.same_dir = false;
  s.model.model2.clear();
  s.model.model3.clear();
  s.model.checkpoints.clear();
  return s;
}

Status ValidateSpec(const JobSpec& spec, const SpecLimits& limits) {
  const ModelSpec& m = spec.model;
  if (m.model.empty()) return InvalidArgument("model.model", "a model is required");

  auto src = ParseDataSource(spec.data.source, "data.source");
  if (!src.ok()) return src.status();
  if (spec.data.batch_size < 1 || spec.data.batch_size > limits.max_batch_size) {
    return InvalidArgument("data.batch_size", "must be between 1 and " + std::to_string(limits.max_batch_size) +
                                                  " (got " + std::to_string(spec.data.batch_size) + ")");
  }
  if (auto n = ParseNormalization(spec.data.normalize, "data.normalize"); !n.ok()) return n.status();
  if (spec.data.max_samples < 0) return InvalidArgument("data.max_samples", "must not be negative");
  if (spec.data.subset_seed && spec.data.max_samples == 0) {
    return InvalidArgument("data.subset_seed", "a seeded subset needs data.max_samples");
  }

  LS_RETURN_IF_ERROR(ValidateGrid(spec.grid, limits.max_points, "grid"));

  const DirectionSpec& d = spec.directions;
  switch (d.kind) {
    case DirectionKind::kRandom:
      if (!m.model2.empty()) return InvalidArgument("model.model2", "given, but directions.kind is random");
      break;
    case DirectionKind::kTarget:
      if (m.model2.empty()) return InvalidArgument("model.model2", "target directions need a second model");
      break;
    case DirectionKind::kFile:
      if (d.file.empty()) return InvalidArgument("directions.file", "directions.kind is file but no file is given");
      break;
    case DirectionKind::kPca:
      if (m.checkpoints.size() < 2) {
        return InvalidArgument("model.checkpoints", "PCA directions need at least 2 checkpoints (got " +
                                                        std::to_string(m.checkpoints.size()) + ")");
      }
      if (!spec.grid.is_2d()) return InvalidArgument("grid.y", "PCA directions span a plane: give a y range");
      break;
  }
  if (!m.model3.empty() && d.kind != DirectionKind::kTarget) {
    return InvalidArgument("model.model3", "model3 needs model2 (target directions)");
  }
  if (!m.model3.empty() && !spec.grid.is_2d()) {
    return InvalidArgument("model.model3", "model3 sets the y direction: give a y range");
  }
  if (d.same_dir && !spec.grid.is_2d()) return InvalidArgument("directions.same_dir", "needs a 2-D grid");

  if (spec.hessian.enabled) {
    if (spec.hessian.max_samples < 0) return InvalidArgument("hessian.max_samples", "must not be negative");
    if (!(spec.hessian.tolerance > 0) || spec.hessian.tolerance >= 1) {
      return InvalidArgument("hessian.tolerance", "must be in (0, 1)");
    }
    if (spec.hessian.max_iterations < 2) return InvalidArgument("hessian.max_iterations", "must be at least 2");
  }
  if (!spec.compute_loss && !spec.hessian.enabled) {
    return InvalidArgument("metrics", "nothing to compute: enable loss or hessian");
  }
  if (spec.tile_size < 0 || spec.tile_size > limits.max_tile_size) {
    return InvalidArgument("tile_size", "must be between 0 (auto) and " + std::to_string(limits.max_tile_size));
  }
  for (const auto& [k, v] : spec.labels) {
    if (k.empty() || k.size() > 63) return InvalidArgument("labels", "label keys must have 1 to 63 characters");
    if (v.size() > 1024) return InvalidArgument("labels." + k, "label values are limited to 1024 characters");
  }
  if (spec.labels.size() > 64) return InvalidArgument("labels", "at most 64 labels");
  for (const auto& [ref, name] : spec.file_names) {
    if (ref.size() > 80 || name.empty() || name.size() > 255 || name.find('/') != std::string::npos) {
      return InvalidArgument("file_names", "each is a reference (at most 80 characters) and a file name of 1 to "
                                           "255 characters without '/'");
    }
  }
  if (spec.file_names.size() > 4096) return InvalidArgument("file_names", "at most 4096 file names");
  return Status::Ok();
}

}  // namespace landscape::core
