#include "furniture.h"

#include <plplot.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string_view>

#include "colormaps.h"
#include "landscape/io/surface_views.h"

namespace landscape::plot::internal {

namespace {

// Splits "a  ·  b  ·  c" into lines at most `max_width` wide (TextWidth),
// breaking at the separators (a part wider than that stays whole).
std::vector<std::string> Wrap(const std::string& text, double max_width) {
  static const std::string kSep = "  ·  ";
  std::vector<std::string> parts;
  size_t pos = 0;
  while (true) {
    const size_t next = text.find(kSep, pos);
    parts.push_back(text.substr(pos, next == std::string::npos ? std::string::npos : next - pos));
    if (next == std::string::npos) break;
    pos = next + kSep.size();
  }
  std::vector<std::string> lines;
  for (const std::string& part : parts) {
    if (!lines.empty() && TextWidth(lines.back() + kSep + part) <= max_width) {
      lines.back() += kSep + part;
    } else {
      lines.push_back(part);
    }
  }
  return lines;
}

// Whether `word` (no spaces) names a file: see ShortenPaths.
bool PathLike(const std::string& word, size_t path_start) {
  const std::string p = word.substr(path_start);
  if (p.find('/') == std::string::npos) return false;
  if (path_start > 0) return true;  // after "scheme:"
  if (p[0] == '/' || p.rfind("./", 0) == 0 || p.rfind("../", 0) == 0 || p.rfind("~/", 0) == 0) return true;
  return std::count(p.begin(), p.end(), '/') >= 2;
}

// One word of ShortenPaths: trailing punctuation and a "scheme:" prefix kept.
std::string ShortenWord(const std::string& word) {
  size_t end = word.size();
  while (end > 0 && (word[end - 1] == ',' || word[end - 1] == ';' || word[end - 1] == ')')) --end;
  const std::string tail = word.substr(end);
  std::string core = word.substr(0, end);
  const size_t colon = core.find(':');
  const size_t slash = core.find('/');
  size_t start = 0;
  if (colon != std::string::npos && slash != std::string::npos && colon < slash && colon > 0 &&
      core.compare(colon, 3, "://") != 0) {
    start = colon + 1;
  }
  if (!PathLike(core, start)) return word;
  while (core.size() > start + 1 && core.back() == '/') core.pop_back();
  const size_t last = core.rfind('/');
  if (last == std::string::npos || last < start) return word;
  const std::string name = core.substr(last + 1);
  return core.substr(0, start) + (name.empty() ? "/" : name) + tail;
}

}  // namespace

std::vector<std::string>& TextLog() {
  static std::vector<std::string> log;  // guarded by PlplotMutex()
  return log;
}

std::string Written(const std::string& text) {
  TextLog().push_back(text);
  return EscapeText(text);
}

std::string ShortenPaths(const std::string& text) {
  std::string out, word;
  for (char c : text + " ") {
    if (c == ' ') {
      out += ShortenWord(word) + c;
      word.clear();
    } else {
      word += c;
    }
  }
  out.pop_back();
  return out;
}

namespace {

// The UTF-8 sequences of `text`, one string per code point.
std::vector<std::string> CodePoints(const std::string& text) {
  std::vector<std::string> out;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) == 0x80 && !out.empty()) {
      out.back() += c;
    } else {
      out.emplace_back(1, c);
    }
  }
  return out;
}

// Advance of one character of the cairo "sans" font (DejaVu Sans) in ems,
// rounded up by class: narrow, lowercase, digits, capitals, wide, the rest.
double GlyphEm(const std::string& cp) {
  if (cp.size() > 1) return 0.9;  // α, β, λ, ·, …: at most this wide
  const char c = cp[0];
  if (c == ' ') return 0.32;
  if (std::string_view("iljI.,:;'|!").find(c) != std::string_view::npos) return 0.34;
  if (std::string_view("frt()[]{}/-\\").find(c) != std::string_view::npos) return 0.44;
  if (std::string_view("mwMW@%").find(c) != std::string_view::npos) return 1.0;
  if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') return 0.64;
  if (c >= 'A' && c <= 'Z') return 0.8;
  return 0.84;  // = + < > # & ~ ...
}

// The font's em in PLplot character heights (measured on the cairo driver:
// about 1.3; rounded up so estimates err wide).
constexpr double kEmPerHeight = 1.4;

}  // namespace

double TextWidth(const std::string& text) {
  double em = 0;
  for (const std::string& cp : CodePoints(text)) em += GlyphEm(cp);
  return em * kEmPerHeight;
}

std::string Ellipsize(const std::string& text, double max_width) {
  if (TextWidth(text) <= max_width) return text;
  const double room = max_width - TextWidth("…");
  std::string cut;
  double w = 0;
  for (const std::string& cp : CodePoints(text)) {
    w += GlyphEm(cp) * kEmPerHeight;
    if (w > room) break;
    cut += cp;
  }
  while (!cut.empty() && cut.back() == ' ') cut.pop_back();
  return cut + "…";
}

double WidthAcross(double scale, double fraction) {
  PLFLT def = 0, ht = 0, x0 = 0, x1 = 0, y0 = 0, y1 = 0;
  plgchr(&def, &ht);
  plgspa(&x0, &x1, &y0, &y1);
  return def * scale > 0 ? fraction * (x1 - x0) / (def * scale) : 80;
}

std::string Fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// The title above the viewport: the first line large, the description below
// it small and wrapped to the page's width; paths shortened to file names,
// and what is still too wide ellipsized.
void Title(const std::vector<std::string>& lines, const std::string& override_first) {
  // Centred on the page, not on the viewport (which a colour bar or a 3-D box
  // moves off centre): a page-wide viewport with the same top, then back.
  PLFLT vx0, vx1, vy0, vy1, wx0, wx1, wy0, wy1;
  plgvpd(&vx0, &vx1, &vy0, &vy1);
  plgvpw(&wx0, &wx1, &wy0, &wy1);
  plvpor(0.02, 0.98, vy0, vy1);
  plcol0(kBlack);
  const std::string first = override_first.empty() ? (lines.empty() ? "" : lines[0]) : override_first;
  std::vector<std::string> sub;
  const double sub_width = WidthAcross(kSubtitleScale, 0.94);
  if (lines.size() > 1 && !lines[1].empty()) sub = Wrap(ShortenPaths(lines[1]), sub_width);
  // plmtex displacements count in the current character height.
  double disp = 1.0;  // in normal character heights above the viewport
  plschr(0, kSubtitleScale);
  for (size_t i = sub.size(); i-- > 0;) {
    plmtex("t", disp / kSubtitleScale, 0.5, 0.5, Written(Ellipsize(sub[i], sub_width)).c_str());
    disp += 1.45 * kSubtitleScale;
  }
  plschr(0, kTitleScale);
  const std::string head = Ellipsize(ShortenPaths(first), WidthAcross(kTitleScale, 0.94));
  plmtex("t", (disp + 0.35) / kTitleScale, 0.5, 0.5, Written(head).c_str());
  plschr(0, kTextScale);
  plvpor(vx0, vx1, vy0, vy1);
  plwind(wx0, wx1, wy0, wy1);
}

// `note` and the job's CI labels in small grey type at the bottom of the page,
// from the viewport's left edge, cut to the page's width.
void Footer(const io::Surface& s, const std::string& note) {
  const std::string labels = io::LabelsLine(io::SurfaceLabels(s));
  std::string text = note;
  if (!labels.empty()) text += (text.empty() ? "" : "   ") + labels;
  if (text.empty()) return;
  PLFLT vx0, vx1, vy0, vy1, wx0, wx1, wy0, wy1;
  plgvpd(&vx0, &vx1, &vy0, &vy1);
  plgvpw(&wx0, &wx1, &wy0, &wy1);
  const double left = std::min(vx0, 0.10);
  plvpor(left, 0.98, 0.0, 1.0);
  plcol0(kGrey);
  plschr(0, kFooterScale);
  text = Ellipsize(text, WidthAcross(kFooterScale, 0.97 - left));
  plmtex("b", -1.4, 0.0, 0.0, Written(text).c_str());  // inside the page-high viewport, descenders too
  plschr(0, kTextScale);
  plcol0(kBlack);
  plvpor(vx0, vx1, vy0, vy1);
  plwind(wx0, wx1, wy0, wy1);
}

std::string ScaleNote(bool log, const PlotOptions& o, double vmin, double vmax) {
  std::string why;
  if (o.scale == Scale::kAuto) {
    // AutoLogScale's two reasons.
    why = !log                ? " (automatic)"
          : vmax / vmin > 100 ? " (automatic: the values span " + Fmt("%.0f", vmax / vmin) + "x)"
                              : " (automatic: most values lie in the lowest tenth)";
  }
  return std::string("colours: ") + (log ? "log" : "linear") + " scale" + why;
}

Frame CurrentFrame(const Stream& st) {
  PLFLT dx0, dx1, dy0, dy1, wx0, wx1, wy0, wy1;
  plgvpd(&dx0, &dx1, &dy0, &dy1);
  plgvpw(&wx0, &wx1, &wy0, &wy1);
  Frame f;
  f.width = st.width();
  f.height = st.height();
  f.left = dx0 * st.width();
  f.right = dx1 * st.width();
  f.top = (1 - dy1) * st.height();
  f.bottom = (1 - dy0) * st.height();
  f.xmin = wx0;
  f.xmax = wx1;
  f.ymin = wy0;
  f.ymax = wy1;
  return f;
}

std::pair<double, double> FiniteRange(const std::vector<double>& v) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double x : v) {
    if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
  }
  return {lo, hi};
}

size_t CountMissing(const std::vector<double>& v) {
  return static_cast<size_t>(std::count_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }));
}

// log10 where the scale is logarithmic; NaN stays NaN (and so do values <= 0).
double Tx(double v, bool log) { return log ? (v > 0 ? std::log10(v) : kNaN) : v; }

// A vertical colour bar right of the viewport. `values`: shade edges (kShade)
// or {min, max} (kImage / kGradient). `log`: the values are log10 of the data.
namespace {
// PLplot label callback: `value` is log10 of the data; writes the data value
// ("0.2", "50"), where PLplot's log axis would round 20 and 50 to "10¹".
void PowerOfTenLabel(PLINT, PLFLT value, char* out, PLINT length, PLPointer) {
  std::snprintf(out, static_cast<size_t>(length), "%.3g", std::pow(10.0, value));
}
}  // namespace

void ColourBar(PLINT kind, const std::vector<double>& values, const std::string& label, bool log, bool edge_labels) {
  PLFLT w = 0, h = 0;
  PLINT opt = kind | (label.empty() ? 0 : PL_COLORBAR_LABEL_RIGHT);
  if (edge_labels) opt |= PL_COLORBAR_SHADE_LABEL;
  const std::string escaped = label.empty() ? "" : Written(label);
  const char* labels[] = {escaped.c_str()};
  PLINT label_opts[] = {PL_COLORBAR_LABEL_RIGHT};
  // Labels at log-scale shade edges name the data values; automatic ticks on a
  // log scale fall on whole decades.
  const bool value_labels = log && edge_labels;
  if (value_labels) plslabelfunc(PowerOfTenLabel, nullptr);
  const std::string axis = value_labels ? "bcvtmo" : log ? "bcvtml" : "bcvtm";
  const char* axis_opts[] = {axis.c_str()};
  PLFLT ticks[] = {0.0};   // automatic; must not be null (PLplot segfaults)
  PLINT sub_ticks[] = {0};
  PLINT n_values[] = {static_cast<PLINT>(values.size())};
  const PLFLT* vals[] = {values.data()};
  plschr(0, 0.85 * kTextScale);
  plsmaj(0, 0.5);
  plsmin(0, 0.5);
  plcol0(kBlack);
  plcolorbar(&w, &h, opt, PL_POSITION_RIGHT | PL_POSITION_OUTSIDE | PL_POSITION_VIEWPORT, 0.02, 0.0, 0.035, 1.0, 0,
             kBlack, 1, 0.0, 1.0, 0, 0.0, label.empty() ? 0 : 1, label_opts, labels, 1, axis_opts, ticks, sub_ticks, n_values, vals);
  if (value_labels) plslabelfunc(nullptr, nullptr);
  plschr(0, kTextScale);
  plsmaj(0, 1.0);
  plsmin(0, 1.0);
}

std::string MissingNote(size_t missing, size_t total) {
  if (missing == 0) return "";
  return "  (" + std::to_string(missing) + " of " + std::to_string(total) + " points missing)";
}

// The title (noting missing points) and the labels' footer.
void TitleAndFooter(const io::Surface& s, const std::string& metric, size_t missing, const PlotOptions& o,
                    const std::string& note) {
  auto lines = io::TitleLines(s, metric);
  lines[0] += MissingNote(missing, s.PointCount());
  Title(lines, o.title);
  Footer(s, note);
}

namespace {
constexpr double kLegendTextScale = 0.8;
constexpr double kLegendPlotWidth = 0.08;  // the line sample, viewport fractions
constexpr double kLegendSpacing = 1.8;     // entry pitch, character heights
constexpr double kLegendMaxWidth = 28;     // character heights; wider entries are ellipsized

// The viewport's size in mm.
std::pair<double, double> ViewportMm() {
  PLFLT vx0, vx1, vy0, vy1, x0, x1, y0, y1;
  plgvpd(&vx0, &vx1, &vy0, &vy1);
  plgspa(&x0, &x1, &y0, &y1);
  return {(vx1 - vx0) * (x1 - x0), (vy1 - vy0) * (y1 - y0)};
}
}  // namespace

std::pair<double, double> LegendSize(const std::vector<LegendEntry>& entries) {
  PLFLT def = 0, ht = 0;
  plgchr(&def, &ht);
  const double ch = def * kLegendTextScale;  // character height, mm
  double text = 0;  // character heights
  for (const auto& e : entries) text = std::max(text, TextWidth(Ellipsize(e.text, kLegendMaxWidth)));
  const auto [vw, vh] = ViewportMm();
  // PLplot: a sample, one character of offset, the text, and a character of margin each side.
  const double w = kLegendPlotWidth + (3.0 + text) * ch / vw;
  const double h = (kLegendSpacing * static_cast<double>(entries.size()) + 0.6) * ch / vh;
  return {std::min(w, 1.0), std::min(h, 1.0)};
}

std::pair<double, double> LegendOrigin(const std::vector<std::pair<double, double>>& pts, double w, double h) {
  constexpr double kInset = 0.02;  // from the viewport's edges
  constexpr int kSteps = 24;
  const double x_lo = kInset, x_hi = std::max(kInset, 1 - kInset - w);
  const double y_lo = kInset, y_hi = std::max(kInset, 1 - kInset - h);
  std::pair<double, double> best{x_hi, y_hi};  // top right
  size_t best_hidden = std::numeric_limits<size_t>::max();
  double best_corner = std::numeric_limits<double>::infinity();
  for (int i = 0; i <= kSteps; ++i) {
    for (int j = kSteps; j >= 0; --j) {
      const double x0 = x_lo + (x_hi - x_lo) * i / kSteps, y0 = y_lo + (y_hi - y_lo) * j / kSteps;
      size_t hidden = 0;
      for (const auto& [px, py] : pts) {
        hidden += (px >= x0 - 0.01 && px <= x0 + w + 0.01 && py >= y0 - 0.01 && py <= y0 + h + 0.01) ? 1 : 0;
      }
      // Among equals, nearest a corner (the right ones first: the reference's place).
      const double corner = std::min(x_hi - x0, x0 - x_lo + 1e-3) + std::min(y_hi - y0, y0 - y_lo + 1e-3);
      if (hidden < best_hidden || (hidden == best_hidden && corner < best_corner - 1e-9)) {
        best_hidden = hidden, best_corner = corner, best = {x0, y0};
      }
    }
  }
  return best;
}

// The legend inside the viewport with its lower-left corner at `origin`, on a
// translucent background so that a curve under it still shows.
Box Legend(const Stream& st, const std::vector<LegendEntry>& entries, std::pair<double, double> origin) {
  const size_t n = entries.size();
  std::vector<std::string> texts(n);
  std::vector<const char*> text_ptrs(n);
  std::vector<PLINT> opts(n), colours(n), styles(n), text_colours(n, kBlack), sym_colours(n), sym_numbers(n, 2);
  std::vector<PLFLT> widths(n), sym_scales(n, 0.9);
  std::vector<const char*> symbols(n, "•");
  for (size_t i = 0; i < n; ++i) {
    texts[i] = Written(Ellipsize(entries[i].text, kLegendMaxWidth));
    text_ptrs[i] = texts[i].c_str();
    opts[i] = PL_LEGEND_LINE | (entries[i].marker ? PL_LEGEND_SYMBOL : 0);
    colours[i] = entries[i].colour;
    sym_colours[i] = entries[i].colour;
    styles[i] = entries[i].style;
    widths[i] = entries[i].width;
  }
  PLFLT w = 0, h = 0;
  plschr(0, kLegendTextScale * kTextScale);
  pllegend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
           PL_POSITION_LEFT | PL_POSITION_BOTTOM | PL_POSITION_INSIDE | PL_POSITION_VIEWPORT, origin.first,
           origin.second, kLegendPlotWidth, kLegendBackground, kGrey, 1, 0, 0, static_cast<PLINT>(n), opts.data(),
           1.0, 1.0, kLegendSpacing, 0.0, text_colours.data(), text_ptrs.data(), nullptr, nullptr, nullptr, nullptr,
           colours.data(), styles.data(), widths.data(), sym_colours.data(), sym_scales.data(), sym_numbers.data(),
           symbols.data());
  plschr(0, kTextScale);
  const Frame f = CurrentFrame(st);
  Box b;
  b.left = f.left + origin.first * (f.right - f.left);
  b.right = b.left + w * (f.right - f.left);
  b.bottom = f.bottom - origin.second * (f.bottom - f.top);
  b.top = b.bottom - h * (f.bottom - f.top);
  return b;
}

}  // namespace landscape::plot::internal
