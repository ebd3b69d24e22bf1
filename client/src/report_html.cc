#include "report_html.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "landscape/io/summary.h"
#include "landscape/io/surface_views.h"
#include "report_assets.h"

namespace landscape::client {

namespace {

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The unit of a metric's values: accuracy and error in percent, losses in the loss's own unit,
// Hessian eigenvalues in loss per squared step along the directions, ratios none.
std::string MetricUnit(const std::string& metric) {
  if (EndsWith(metric, "_acc") || EndsWith(metric, "_err")) return "%";
  if (EndsWith(metric, "_loss")) return "loss";
  if (metric == "min_eig" || metric == "max_eig") return "loss/α²";
  return "";
}

// Replaces every occurrence of `from` in `s` by `to`.
std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

std::string InlineScript(const char* name) {
  const WebAsset* a = FindWebAsset(name);
  if (a == nullptr) return "";
  std::string js(reinterpret_cast<const char*>(a->data), a->size);
  // Inside a script element only "</script" ends it; in JavaScript source "<\/" reads as "</".
  return "<script>" + ReplaceAll(ReplaceAll(js, "</script", "<\\/script"), "</SCRIPT", "<\\/SCRIPT") + "</script>\n";
}

}  // namespace

std::string ScalarUnit(const std::string& name, bool is_2d) {
  const std::string base = name.substr(0, name.find('@'));
  if (base == "points" || base == "points_done" || base == "missing" || base == "nan" || EndsWith(base, ".nan")) {
    return "points";
  }
  if (EndsWith(base, "_x")) return "α";
  if (EndsWith(base, "_y")) return "β";
  if (EndsWith(base, "basin_area")) return is_2d ? "α·β" : "α";
  if (EndsWith(base, "basin_fraction")) return "of the grid";
  if (EndsWith(base, "increase")) return "loss";
  const auto dot = base.find('.');
  return dot == std::string::npos ? "" : MetricUnit(base.substr(0, dot));
}

std::string SurfaceViewHtml(const io::Surface& s, const std::string& metric) {
  if (!s.is_2d() || metric.empty()) return "";
  auto values = io::MetricValues(s, metric);
  if (!values.ok()) return "";
  nlohmann::json v = nlohmann::json::array();
  for (double x : *values) v.push_back(std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr));
  const nlohmann::json data = {{"metric", metric}, {"label", io::MetricDisplayName(metric)},
                               {"x", s.x},         {"y", s.y},
                               {"values", v}};
  // '<' only occurs inside JSON strings, where \u003c reads back as '<'.
  const std::string text =
      ReplaceAll(data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "<", "\\u003c");
  return "<h2>3-D view</h2>\n<figure class=\"view3d\"><div id=\"surface3d\"></div><figcaption><span id=\"surface3d-range\">" +
         io::XmlEscape(io::MetricDisplayName(metric)) +
         "</span>; drag to rotate, wheel to zoom</figcaption></figure>\n"
         "<script type=\"application/json\" id=\"surface-data\">" + text + "</script>\n";
}

std::string SurfaceViewScripts() { return InlineScript("three.min.js") + InlineScript("report3d.js"); }

}  // namespace landscape::client
