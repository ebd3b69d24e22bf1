// JobSpec <-> JSON. Field names here are the stable storage format (Redis job
// records, summary files, HDF5 attributes): add fields, never rename them.
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "landscape/core/spec.h"

namespace landscape::core {

using nlohmann::json;

namespace {

json AxisJson(const AxisSpec& a) { return json{{"min", a.min}, {"max", a.max}, {"num", a.num}}; }

}  // namespace

std::string SpecToJson(const JobSpec& s, int indent) {
  json j;
  j["model"] = {{"model", s.model.model},
                {"arch", s.model.arch},
                {"model2", s.model.model2},
                {"model3", s.model.model3},
                {"checkpoints", s.model.checkpoints}};
  json data = {{"source", s.data.source},
               {"split", Name(s.data.split)},
               {"max_samples", s.data.max_samples},
               {"batch_size", s.data.batch_size},
               {"normalize", s.data.normalize}};
  if (s.data.subset_seed) data["subset_seed"] = *s.data.subset_seed;
  j["data"] = data;
  j["loss"] = Name(s.loss);
  j["directions"] = {{"kind", Name(s.directions.kind)},
                     {"type", Name(s.directions.type)},
                     {"x", {{"norm", Name(s.directions.x.norm)}, {"ignore", Name(s.directions.x.ignore)}}},
                     {"y", {{"norm", Name(s.directions.y.norm)}, {"ignore", Name(s.directions.y.ignore)}}},
                     {"seed", s.directions.seed},
                     {"same_dir", s.directions.same_dir},
                     {"file", s.directions.file},
                     {"pca_ignore", Name(s.directions.pca_ignore)}};
  json grid = {{"x", AxisJson(s.grid.x)}};
  if (s.grid.y) grid["y"] = AxisJson(*s.grid.y);
  j["grid"] = grid;
  j["hessian"] = {{"enabled", s.hessian.enabled},
                  {"max_samples", s.hessian.max_samples},
                  {"tolerance", s.hessian.tolerance},
                  {"max_iterations", s.hessian.max_iterations}};
  j["compute_loss"] = s.compute_loss;
  j["labels"] = s.labels;
  j["tile_size"] = s.tile_size;
  j["name"] = s.name;
  if (!s.file_names.empty()) j["file_names"] = s.file_names;  // absent when empty: older records stay the same
  return j.dump(indent);
}

std::string ComputationKey(const JobSpec& spec) {
  JobSpec s = spec;
  s.labels.clear();
  s.name.clear();
  s.tile_size = 0;
  s.file_names.clear();
  return SpecToJson(s);
}

namespace {

// Whether the JSON number `v` is an integer that T holds: converting any other (1e300, -1 to an
// unsigned field, 2.5) would be undefined or silently wrong.
template <typename T>
bool FitsInteger(const json& v) {
  if (v.is_number_float()) {
    const double d = v.get<double>();
    const double hi = std::ldexp(1.0, std::numeric_limits<T>::digits);  // 2^63 for int64_t, 2^64 for uint64_t
    const double lo = std::is_signed_v<T> ? -hi : 0.0;
    return std::isfinite(d) && d == std::floor(d) && d >= lo && d < hi;
  }
  if (v.is_number_unsigned()) return v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
  const int64_t i = v.get<int64_t>();
  if constexpr (std::is_signed_v<T>) {
    return i >= static_cast<int64_t>(std::numeric_limits<T>::min()) && i <= static_cast<int64_t>(std::numeric_limits<T>::max());
  } else {
    return i >= 0 && static_cast<uint64_t>(i) <= static_cast<uint64_t>(std::numeric_limits<T>::max());
  }
}

// Reads an object strictly: every key must be consumed by a getter, else the
// caller reports it as unknown.
class Reader {
 public:
  Reader(const json& j, std::string path) : j_(j), path_(std::move(path)) {}

  template <typename T>
  Status Get(const char* key, T* out) {
    seen_.push_back(key);
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return Status::Ok();  // keep the default
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      if (it->is_number() && !FitsInteger<T>(*it)) {
        return InvalidArgument(Field(key), "must be an integer in [" + std::to_string(std::numeric_limits<T>::min()) +
                                               ", " + std::to_string(std::numeric_limits<T>::max()) + "], got " +
                                               it->dump());
      }
    }
    try {
      *out = it->get<T>();
    } catch (const json::exception& e) {
      return InvalidArgument(Field(key), std::string("wrong type: ") + e.what());
    }
    return Status::Ok();
  }

  template <typename E, typename ParseFn>
  Status GetEnum(const char* key, E* out, ParseFn parse) {
    std::string text;
    LS_RETURN_IF_ERROR(Get(key, &text));
    if (!j_.contains(key)) return Status::Ok();
    auto r = parse(text, Field(key));
    if (!r.ok()) return r.status();
    *out = *r;
    return Status::Ok();
  }

  Result<Reader> Child(const char* key) {
    seen_.push_back(key);
    static const json kEmpty = json::object();
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return Reader(kEmpty, Field(key));
    if (!it->is_object()) return InvalidArgument(Field(key), "must be an object");
    return Reader(*it, Field(key));
  }

  void Mark(const char* key) { seen_.push_back(key); }

  bool Has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }

  Status CheckNoUnknown() const {
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      bool known = false;
      for (const auto& s : seen_) known = known || s == it.key();
      if (!known) return InvalidArgument(Field(it.key().c_str()), "unknown field");
    }
    return Status::Ok();
  }

  std::string Field(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

 private:
  const json& j_;
  std::string path_;
  std::vector<std::string> seen_;
};

Status ReadAxis(Reader r, AxisSpec* a) {
  LS_RETURN_IF_ERROR(r.Get("min", &a->min));
  LS_RETURN_IF_ERROR(r.Get("max", &a->max));
  LS_RETURN_IF_ERROR(r.Get("num", &a->num));
  return r.CheckNoUnknown();
}

Status ReadAxisDirection(Reader r, AxisDirection* d) {
  LS_RETURN_IF_ERROR(r.GetEnum("norm", &d->norm, ParseNorm));
  LS_RETURN_IF_ERROR(r.GetEnum("ignore", &d->ignore, ParseIgnore));
  return r.CheckNoUnknown();
}

}  // namespace

Result<JobSpec> SpecFromJson(std::string_view text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return InvalidArgument("spec", std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) return InvalidArgument("spec", "must be a JSON object");
  JobSpec s;
  Reader root(j, "");

  LS_ASSIGN_OR_RETURN(Reader model, root.Child("model"));
  LS_RETURN_IF_ERROR(model.Get("model", &s.model.model));
  LS_RETURN_IF_ERROR(model.Get("arch", &s.model.arch));
  LS_RETURN_IF_ERROR(model.Get("model2", &s.model.model2));
  LS_RETURN_IF_ERROR(model.Get("model3", &s.model.model3));
  LS_RETURN_IF_ERROR(model.Get("checkpoints", &s.model.checkpoints));
  LS_RETURN_IF_ERROR(model.CheckNoUnknown());

  LS_ASSIGN_OR_RETURN(Reader data, root.Child("data"));
  LS_RETURN_IF_ERROR(data.Get("source", &s.data.source));
  LS_RETURN_IF_ERROR(data.GetEnum("split", &s.data.split, ParseSplit));
  LS_RETURN_IF_ERROR(data.Get("max_samples", &s.data.max_samples));
  uint64_t subset_seed = 0;
  LS_RETURN_IF_ERROR(data.Get("subset_seed", &subset_seed));
  if (data.Has("subset_seed")) s.data.subset_seed = subset_seed;
  LS_RETURN_IF_ERROR(data.Get("batch_size", &s.data.batch_size));
  LS_RETURN_IF_ERROR(data.Get("normalize", &s.data.normalize));
  LS_RETURN_IF_ERROR(data.CheckNoUnknown());

  LS_RETURN_IF_ERROR(root.GetEnum("loss", &s.loss, ParseLoss));

  LS_ASSIGN_OR_RETURN(Reader dirs, root.Child("directions"));
  LS_RETURN_IF_ERROR(dirs.GetEnum("kind", &s.directions.kind, ParseDirectionKind));
  LS_RETURN_IF_ERROR(dirs.GetEnum("type", &s.directions.type, ParseDirType));
  LS_ASSIGN_OR_RETURN(Reader dx, dirs.Child("x"));
  LS_RETURN_IF_ERROR(ReadAxisDirection(dx, &s.directions.x));
  LS_ASSIGN_OR_RETURN(Reader dy, dirs.Child("y"));
  LS_RETURN_IF_ERROR(ReadAxisDirection(dy, &s.directions.y));
  LS_RETURN_IF_ERROR(dirs.Get("seed", &s.directions.seed));
  LS_RETURN_IF_ERROR(dirs.Get("same_dir", &s.directions.same_dir));
  LS_RETURN_IF_ERROR(dirs.Get("file", &s.directions.file));
  LS_RETURN_IF_ERROR(dirs.GetEnum("pca_ignore", &s.directions.pca_ignore, ParseIgnore));
  LS_RETURN_IF_ERROR(dirs.CheckNoUnknown());

  LS_ASSIGN_OR_RETURN(Reader grid, root.Child("grid"));
  if (!grid.Has("x")) return InvalidArgument("grid.x", "required");
  LS_ASSIGN_OR_RETURN(Reader gx, grid.Child("x"));
  LS_RETURN_IF_ERROR(ReadAxis(gx, &s.grid.x));
  if (grid.Has("y")) {
    AxisSpec y;
    LS_ASSIGN_OR_RETURN(Reader gy, grid.Child("y"));
    LS_RETURN_IF_ERROR(ReadAxis(gy, &y));
    s.grid.y = y;
  } else {
    grid.Mark("y");
  }
  LS_RETURN_IF_ERROR(grid.CheckNoUnknown());

  LS_ASSIGN_OR_RETURN(Reader hess, root.Child("hessian"));
  LS_RETURN_IF_ERROR(hess.Get("enabled", &s.hessian.enabled));
  LS_RETURN_IF_ERROR(hess.Get("max_samples", &s.hessian.max_samples));
  LS_RETURN_IF_ERROR(hess.Get("tolerance", &s.hessian.tolerance));
  LS_RETURN_IF_ERROR(hess.Get("max_iterations", &s.hessian.max_iterations));
  LS_RETURN_IF_ERROR(hess.CheckNoUnknown());

  LS_RETURN_IF_ERROR(root.Get("compute_loss", &s.compute_loss));
  LS_RETURN_IF_ERROR(root.Get("labels", &s.labels));
  LS_RETURN_IF_ERROR(root.Get("tile_size", &s.tile_size));
  LS_RETURN_IF_ERROR(root.Get("name", &s.name));
  LS_RETURN_IF_ERROR(root.Get("file_names", &s.file_names));
  LS_RETURN_IF_ERROR(root.CheckNoUnknown());
  return s;
}

}  // namespace landscape::core
