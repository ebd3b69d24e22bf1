// `landscape report SURFACE.h5 --out report.html [--json F] [--fail-if EXPR]...`:
// one self-contained HTML file for a CI page (works from file://, no network):
// the gates and key numbers (with units) first, the labels, an interactive 3-D
// view (three.js inline), pictures inlined as base64 PNG that scale to the
// viewport, the JSON summary as tables; exit code 4 when a gate is crossed.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cmd_pictures.h"
#include "exit_codes.h"
#include "landscape/io/gates.h"
#include "landscape/io/summary.h"
#include "landscape/io/surface_views.h"
#include "picture_inputs.h"
#include "plots.h"
#include "report_html.h"

namespace landscape::client {

namespace {

using nlohmann::json;

std::string Html(const std::string& s) { return io::XmlEscape(s); }

std::string Base64(const std::string& bytes) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == bytes.size()) {
    const uint32_t n = uint8_t(bytes[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string Value(const json& v) {
  if (v.is_null()) return "—";
  if (v.is_number_float()) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.6g", v.get<double>());
    return buf;
  }
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

// The summary's leaves as (dotted path, value) rows, "scalars" excluded (own table).
void Flatten(const json& j, const std::string& prefix, std::vector<std::pair<std::string, std::string>>* rows) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if (prefix.empty() && k == "scalars") continue;
      Flatten(v, prefix.empty() ? k : prefix + "." + k, rows);
    }
  } else if (j.is_array() && !j.empty() && (j.front().is_object() || j.front().is_array())) {
    for (size_t i = 0; i < j.size(); ++i) Flatten(j[i], prefix + "[" + std::to_string(i) + "]", rows);
  } else {
    rows->emplace_back(prefix, Value(j));
  }
}

const char* kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em;overflow-wrap:anywhere}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
.sub{color:#555;margin:.1em 0;overflow-wrap:anywhere}table{border-collapse:collapse;margin:.5em 0;font-size:.92em;max-width:100%}
td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top;overflow-wrap:anywhere}th{background:#f4f4f4}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.pass{color:#17702a;font-weight:bold}
.fail{color:#b3001b;font-weight:bold}figure{display:inline-block;margin:.5em 0;vertical-align:top;max-width:100%}
figure img{max-width:100%;height:auto;border:1px solid #ddd}figcaption{text-align:center;color:#555;font-size:.9em}
.view3d{display:block}#surface3d canvas{display:block;width:100%;max-width:640px;height:auto;border:1px solid #ddd;touch-action:none}
.err{color:#b3001b}details{margin:1em 0}pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:.85em;max-width:100%}
footer{margin-top:2em;color:#777;font-size:.85em;overflow-wrap:anywhere})";

// The gates a CI tracks, first on the page: each expression, its value and pass/FAIL.
std::string GatesHtml(const std::vector<io::GateResult>& results) {
  size_t crossed = 0;
  for (const auto& r : results) crossed += r.crossed ? 1 : 0;
  if (results.empty()) return "<h2 id=\"gates\">Gates</h2>\n<p class=\"sub\">No gate given (--fail-if EXPR).</p>\n";
  std::string h = "<h2 id=\"gates\">Gates: " +
                  std::string(crossed ? "<span class=\"fail\">" + std::to_string(crossed) + " FAILED"
                                      : "<span class=\"pass\">all passed") +
                  "</span></h2>\n<table><tr><th>fail if</th><th>value</th><th>result</th></tr>";
  for (const auto& r : results) {
    char v[40];
    std::snprintf(v, sizeof v, "%.6g", r.value);
    h += "<tr><td><code>" + Html(r.gate.scalar) + " " + Html(io::OpText(r.gate.op)) + " " +
         Html(io::ScalarNumber(r.gate.threshold)) + "</code></td><td class=\"num\">" + v + "</td><td class=\"" +
         (r.crossed ? "fail\">FAIL" : "pass\">pass") + "</td></tr>";
  }
  return h + "</table>\n";
}

// Rows of summary scalars (the names --fail-if takes) with their units; `keep` picks them.
template <typename Keep>
std::string ScalarsTable(const io::Scalars& scalars, bool is_2d, Keep keep) {
  std::string h = "<table><tr><th>scalar</th><th>value</th><th>unit</th></tr>";
  for (const auto& [k, v] : scalars) {
    if (!keep(k)) continue;
    char buf[40] = "—";
    if (v) std::snprintf(buf, sizeof buf, "%.6g", *v);
    h += "<tr><td><code>" + Html(k) + "</code></td><td class=\"num\">" + buf + "</td><td>" +
         Html(ScalarUnit(k, is_2d)) + "</td></tr>";
  }
  return h + "</table>\n";
}

// The numbers a CI tracks: the grid's (points, missing, NaN), the primary loss's sharpness and the
// primary metric's centre, minimum and maximum. Every scalar follows the pictures.
std::string KeyNumbersHtml(const io::Scalars& scalars, const std::string& primary, bool is_2d) {
  auto key = [&primary](const std::string& k) {
    return k.find('.') == std::string::npos || k == primary + ".centre" || k == primary + ".min" || k == primary + ".max";
  };
  return "<h2 id=\"numbers\">Key numbers</h2>\n" + ScalarsTable(scalars, is_2d, key);
}

// The interactive 3-D view (2-D surfaces) and the pictures as inline PNGs that scale to the page.
std::string PicturesHtml(const io::Surface& s, const std::string& metric, const ReportCmdOptions& o) {
  std::string h = SurfaceViewHtml(s, metric);
  h += "<h2 id=\"pictures\">Pictures</h2>\n";
  if (!HavePictures()) return h + "<p class=\"err\">This landscape was built without PLplot: no pictures.</p>\n";
  for (const ReportPicture& p : ReportPictures(s, metric, o.proj_file, o.dir_file)) {
    if (p.png.empty()) {
      h += "<p class=\"err\">" + Html(p.caption) + ": " + Html(p.error) + "</p>\n";
    } else {
      h += "<figure><img alt=\"" + Html(p.caption) + "\" src=\"data:image/png;base64," + Base64(p.png) +
           "\"><figcaption>" + Html(p.caption) + "</figcaption></figure>\n";
    }
  }
  return h;
}

}  // namespace

int RunReport(const ReportCmdOptions& o) {
  // Gates first: a malformed one is a usage error before anything is read or written.
  std::vector<io::Gate> gates;
  for (const std::string& text : o.fail_if) {
    auto g = io::ParseGate(text);
    if (!g.ok()) return Report(g.status());
    gates.push_back(std::move(*g));
  }
  if (std::filesystem::path(o.out).extension() != ".html" && std::filesystem::path(o.out).extension() != ".htm") {
    return Report(core::InvalidArgument("--out", "the report is HTML: name it *.html"));
  }
  auto surface = LoadSurface(o.surface, o.labels);
  if (!surface.ok()) return Report(surface.status());
  const io::Surface& s = *surface;
  const std::string metric = o.metric.empty() ? io::PrimaryMetric(s) : o.metric;
  if (!metric.empty()) {
    auto m = io::MetricValues(s, metric);
    if (!m.ok()) return Report(m.status());
  }

  io::SummaryContext ctx;
  io::AddGateSharpness(gates, &ctx.sharpness);
  ctx.extra["surface_file"] = o.surface;
  const io::Scalars scalars = io::SummaryScalars(s, ctx.sharpness);
  std::vector<io::GateResult> results;
  for (const io::Gate& g : gates) {
    auto r = io::EvaluateGate(g, scalars);
    if (!r.ok()) return Report(r.status());
    results.push_back(*r);
  }
  const std::string summary_text = io::SurfaceSummaryJson(s, ctx);
  const json summary = json::parse(summary_text);
  if (!o.json.empty()) {
    core::Status st = io::WriteTextFile(o.json, summary_text);
    if (!st.ok()) return Report(st);
    std::fprintf(stderr, "landscape: wrote %s\n", o.json.c_str());
  }

  const auto labels = io::SurfaceLabels(s);
  const io::SurfaceDescription desc = io::DescribeSurface(s);
  const auto title_lines = io::TitleLines(s, metric.empty() ? "surface" : metric);
  const std::string title = o.title.empty() ? title_lines[0] : o.title;
  size_t crossed = 0;
  for (const auto& r : results) crossed += r.crossed ? 1 : 0;
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  h += "<meta name=\"generator\" content=\"landscape " LANDSCAPE_VERSION "\">\n";
  h += "<title>landscape report: " + Html(title) + "</title>\n<style>" + std::string(kStyle) + "</style></head>\n<body>\n";
  h += "<h1>" + Html(title) + "</h1>\n";
  if (title_lines.size() > 1) h += "<p class=\"sub\">" + Html(title_lines[1]) + "</p>\n";
  h += "<p class=\"sub\">surface: <code>" + Html(o.surface) + "</code></p>\n";
  // What a CI tracks first: the gates, then the numbers; pictures after.
  h += GatesHtml(results) + KeyNumbersHtml(scalars, io::PrimaryMetric(s), s.is_2d());
  if (!labels.empty()) {
    h += "<h2>Labels</h2>\n<table>";
    for (const auto& [k, v] : labels) h += "<tr><th>" + Html(k) + "</th><td>" + Html(v) + "</td></tr>";
    h += "</table>\n";
  }
  if (!o.no_pictures) h += PicturesHtml(s, metric, o);
  h += "<h2>All scalars</h2>\n" + ScalarsTable(scalars, s.is_2d(), [](const std::string&) { return true; });
  h += "<h2>Summary</h2>\n<table><tr><th>field</th><th>value</th></tr>";
  std::vector<std::pair<std::string, std::string>> rows;
  Flatten(summary, "", &rows);
  for (const auto& [k, v] : rows) h += "<tr><td><code>" + Html(k) + "</code></td><td>" + Html(v) + "</td></tr>";
  h += "</table>\n<details><summary>JSON summary</summary><pre>" + Html(summary_text) + "</pre></details>\n";
  h += "<footer>landscape " LANDSCAPE_VERSION;
  if (!labels.empty()) h += " · " + Html(io::LabelsLine(labels));
  if (!desc.model.empty()) h += " · " + Html(desc.model);
  h += "</footer>\n";
  if (!o.no_pictures && s.is_2d()) h += SurfaceViewScripts();
  h += "</body></html>\n";
  core::Status st = io::WriteTextFile(o.out, h);
  if (!st.ok()) return Report(st);
  std::fprintf(stderr, "landscape: wrote %s\n", o.out.c_str());

  for (const auto& r : results) {
    std::fprintf(stderr, "landscape: gate %s: %s = %.6g %s\n", r.crossed ? "FAILED" : "passed", r.gate.text.c_str(),
                 r.value, r.crossed ? "(crossed)" : "");
  }
  return crossed ? kExitGateFailed : kExitOk;
}

}  // namespace landscape::client
