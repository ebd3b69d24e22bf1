#include "landscape/io/surface_views.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

namespace landscape::io {

using nlohmann::json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The stored values with NaN at points not done.
std::vector<double> Masked(const Surface& s, const std::string& name) {
  std::vector<double> v = s.metrics.at(name);
  for (size_t k = 0; k < v.size(); ++k) {
    if (k >= s.done.size() || !s.done[k]) v[k] = kNaN;
  }
  return v;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

// The spec attribute parsed leniently (display only); null when absent or bad.
json SpecOf(const Surface& s) {
  auto it = s.attributes.find("spec");
  if (it == s.attributes.end() || it->second.empty()) return json();
  json j = json::parse(it->second, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : json();
}

std::string Str(const json& j, std::initializer_list<const char*> path) {
  const json* p = &j;
  for (const char* key : path) {
    if (!p->is_object()) return "";
    auto it = p->find(key);
    if (it == p->end()) return "";
    p = &*it;
  }
  if (p->is_string()) return p->get<std::string>();
  if (p->is_number_integer()) return std::to_string(p->get<int64_t>());
  if (p->is_number()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", p->get<double>());
    return buf;
  }
  if (p->is_boolean()) return p->get<bool>() ? "true" : "false";
  return "";
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

bool IsLossMetric(const std::string& metric) { return metric == "train_loss" || metric == "test_loss"; }

std::vector<std::string> AvailableMetrics(const Surface& s) {
  std::vector<std::string> out = s.metric_names;
  for (const char* split : {"train", "test"}) {
    if (s.Has(std::string(split) + "_acc")) out.push_back(std::string(split) + "_err");
  }
  if (s.Has("min_eig") && s.Has("max_eig")) {
    out.emplace_back("eig_ratio");
    out.emplace_back("eig_ratio_signed");
  }
  return out;
}

std::string PrimaryMetric(const Surface& s) {
  if (s.Has("train_loss")) return "train_loss";
  if (s.Has("test_loss")) return "test_loss";
  return s.metric_names.empty() ? "" : s.metric_names.front();
}

core::Result<std::vector<double>> MetricValues(const Surface& s, const std::string& metric,
                                               const std::string& field) {
  if (s.Has(metric)) return Masked(s, metric);
  if (EndsWith(metric, "_err")) {
    const std::string acc = metric.substr(0, metric.size() - 4) + "_acc";
    if (s.Has(acc)) {
      std::vector<double> v = Masked(s, acc);
      for (double& x : v) x = 100.0 - x;
      return v;
    }
  }
  if ((metric == "eig_ratio" || metric == "eig_ratio_signed") && s.Has("min_eig") && s.Has("max_eig")) {
    std::vector<double> lo = Masked(s, "min_eig");
    const std::vector<double> hi = Masked(s, "max_eig");
    const bool signed_ratio = metric == "eig_ratio_signed";
    for (size_t k = 0; k < lo.size(); ++k) {
      lo[k] = signed_ratio ? lo[k] / hi[k] : std::fabs(lo[k] / hi[k]);  // NaN/inf stay non-finite
    }
    return lo;
  }
  return core::InvalidArgument(field, "the surface has no metric '" + metric + "' (it has: " +
                                          JoinNames(AvailableMetrics(s)) + ")");
}

std::string MetricDisplayName(const std::string& metric) {
  if (metric == "eig_ratio") return "|λmin/λmax|";
  if (metric == "eig_ratio_signed") return "λmin/λmax";
  if (metric == "min_eig") return "λmin";
  if (metric == "max_eig") return "λmax";
  std::string split = metric.substr(0, metric.find('_'));
  if (EndsWith(metric, "_loss")) return split + " loss";
  if (EndsWith(metric, "_acc")) return split + " accuracy (%)";
  if (EndsWith(metric, "_err")) return split + " error (%)";
  return metric;
}

std::map<std::string, std::string> SurfaceLabels(const Surface& s) {
  std::map<std::string, std::string> labels;
  json spec = SpecOf(s);
  if (spec.is_object() && spec.contains("labels") && spec["labels"].is_object()) {
    for (const auto& [k, v] : spec["labels"].items()) {
      if (v.is_string()) labels[k] = v.get<std::string>();
    }
  }
  for (const auto& [k, v] : s.attributes) {
    if (k.rfind("label_", 0) == 0 && k.size() > 6) labels[k.substr(6)] = v;
  }
  return labels;
}

std::string LabelsLine(const std::map<std::string, std::string>& labels) {
  std::string out;
  for (const auto& [k, v] : labels) out += (out.empty() ? "" : "  ") + k + "=" + v;
  return out;
}

SurfaceDescription DescribeSurface(const Surface& s) {
  SurfaceDescription d;
  const json spec = SpecOf(s);
  if (spec.is_object()) {
    const std::string model = Str(spec, {"model", "model"});
    const std::string arch = Str(spec, {"model", "arch"});
    if (!model.empty()) {
      d.model = std::filesystem::path(model).filename().string();
      if (!arch.empty()) d.model += " (" + std::filesystem::path(arch).filename().string() + ")";
    }
    d.data = Str(spec, {"data", "source"});
    const std::string split = Str(spec, {"data", "split"});
    if (!split.empty()) d.data += " " + (split == "both" ? std::string("train+test") : split);
    const std::string n = Str(spec, {"data", "max_samples"});
    if (!n.empty() && n != "0") d.data += ", " + n + " samples";
    const std::string loss = Str(spec, {"loss"});
    if (!loss.empty()) d.data += ", " + (loss == "crossentropy" ? std::string("cross-entropy") : loss);
    const std::string kind = Str(spec, {"directions", "kind"});
    const std::string type = Str(spec, {"directions", "type"});
    if (kind == "random") {
      d.directions = "random " + Str(spec, {"directions", "x", "norm"}) + "/" +
                     Str(spec, {"directions", "x", "ignore"}) + " " + type + ", seed " +
                     Str(spec, {"directions", "seed"});
    } else if (kind == "file") {
      d.directions = "directions from " +
                     std::filesystem::path(Str(spec, {"directions", "file"})).filename().string();
    } else if (!kind.empty()) {
      d.directions = kind + " directions, " + type;
    }
    d.name = Str(spec, {"name"});
  }
  if (d.directions.empty() && !s.dir_file.empty()) {
    d.directions = "directions " + std::filesystem::path(s.dir_file).filename().string();
  }
  d.grid = std::to_string(s.nx());
  if (s.is_2d()) d.grid += " x " + std::to_string(s.ny());
  d.grid += " points, x " + Num(s.x.front()) + ":" + Num(s.x.back());
  if (s.is_2d()) d.grid += ", y " + Num(s.y.front()) + ":" + Num(s.y.back());
  if (s.DoneCount() < s.PointCount()) {
    d.grid += " (" + std::to_string(s.DoneCount()) + " of " + std::to_string(s.PointCount()) + " done)";
  }
  return d;
}

std::vector<std::string> TitleLines(const Surface& s, const std::string& metric) {
  const SurfaceDescription d = DescribeSurface(s);
  std::string first = !d.name.empty() ? d.name : d.model;
  first += (first.empty() ? "" : "  ·  ") + MetricDisplayName(metric);
  std::string second = d.data;
  for (const std::string* part : {&d.directions, &d.grid}) {
    if (!part->empty()) second += (second.empty() ? "" : "  ·  ") + *part;
  }
  return {first, second};
}

std::vector<double> CellWidths(const std::vector<double>& c) {
  const size_t n = c.size();
  std::vector<double> w(n, 0.0);
  if (n < 2) return w;
  for (size_t i = 0; i < n; ++i) {
    const double left = i == 0 ? c[0] : c[i - 1];
    const double right = i + 1 == n ? c[n - 1] : c[i + 1];
    w[i] = 0.5 * (right - left);
  }
  return w;
}

size_t NearestToZero(const std::vector<double>& c) {
  size_t best = 0;
  for (size_t i = 1; i < c.size(); ++i) {
    if (std::fabs(c[i]) < std::fabs(c[best])) best = i;
  }
  return best;
}

}  // namespace landscape::io
