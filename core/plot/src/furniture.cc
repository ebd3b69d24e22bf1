#include "furniture.h"

#include <plplot.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "colormaps.h"
#include "landscape/io/surface_views.h"

namespace landscape::plot::internal {

namespace {

// Splits "a  ·  b  ·  c" into lines of at most `max_chars`, breaking at the separators.
std::vector<std::string> Wrap(const std::string& text, size_t max_chars) {
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
    if (!lines.empty() && lines.back().size() + kSep.size() + part.size() <= max_chars) {
      lines.back() += kSep + part;
    } else {
      lines.push_back(part);
    }
  }
  return lines;
}

// How many characters of the current height fit across the page (glyphs are
// about 0.6 of the character height wide in the cairo sans font; UTF-8 bytes
// over-count, which only wraps earlier).
size_t CharsAcrossPage(double scale) {
  PLFLT def = 0, ht = 0, x0 = 0, x1 = 0, y0 = 0, y1 = 0;
  plgchr(&def, &ht);
  plgspa(&x0, &x1, &y0, &y1);
  const double w = 0.6 * def * scale;
  return w > 0 ? static_cast<size_t>(0.96 * (x1 - x0) / w) : 120;
}

}  // namespace

std::string Fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// The title above the viewport: the first line large, the description below
// it small and wrapped to the page's width.
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
  if (lines.size() > 1 && !lines[1].empty()) sub = Wrap(lines[1], CharsAcrossPage(kSubtitleScale));
  // plmtex displacements count in the current character height.
  double disp = 1.0;  // in normal character heights above the viewport
  plschr(0, kSubtitleScale);
  for (size_t i = sub.size(); i-- > 0;) {
    plmtex("t", disp / kSubtitleScale, 0.5, 0.5, EscapeText(sub[i]).c_str());
    disp += 1.45 * kSubtitleScale;
  }
  plschr(0, kTitleScale);
  plmtex("t", (disp + 0.35) / kTitleScale, 0.5, 0.5, EscapeText(first).c_str());
  plschr(0, kTextScale);
  plvpor(vx0, vx1, vy0, vy1);
  plwind(wx0, wx1, wy0, wy1);
}

// The job's CI labels in small grey type at the bottom of the page, aligned
// with the viewport's left edge.
void Footer(const io::Surface& s) {
  const std::string labels = io::LabelsLine(io::SurfaceLabels(s));
  if (labels.empty()) return;
  PLFLT vx0, vx1, vy0, vy1, wx0, wx1, wy0, wy1;
  plgvpd(&vx0, &vx1, &vy0, &vy1);
  plgvpw(&wx0, &wx1, &wy0, &wy1);
  plvpor(vx0, 0.98, 0.0, 1.0);
  plcol0(kGrey);
  plschr(0, kFooterScale);
  plmtex("b", -0.9, 0.0, 0.0, EscapeText(labels).c_str());  // inside the page-high viewport
  plschr(0, kTextScale);
  plcol0(kBlack);
  plvpor(vx0, vx1, vy0, vy1);
  plwind(wx0, wx1, wy0, wy1);
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
void ColourBar(PLINT kind, const std::vector<double>& values, const std::string& label, bool log, bool edge_labels) {
  PLFLT w = 0, h = 0;
  PLINT opt = kind | PL_COLORBAR_LABEL_RIGHT;
  if (edge_labels) opt |= PL_COLORBAR_SHADE_LABEL;
  const std::string escaped = EscapeText(label);
  const char* labels[] = {escaped.c_str()};
  PLINT label_opts[] = {PL_COLORBAR_LABEL_RIGHT};
  const std::string axis = log ? "bcvtml" : "bcvtm";
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
             kBlack, 1, 0.0, 1.0, 0, 0.0, 1, label_opts, labels, 1, axis_opts, ticks, sub_ticks, n_values, vals);
  plschr(0, kTextScale);
  plsmaj(0, 1.0);
  plsmin(0, 1.0);
}

std::string MissingNote(size_t missing, size_t total) {
  if (missing == 0) return "";
  return "  (" + std::to_string(missing) + " of " + std::to_string(total) + " points missing)";
}

// The title (noting missing points) and the labels' footer.
void TitleAndFooter(const io::Surface& s, const std::string& metric, size_t missing, const PlotOptions& o) {
  auto lines = io::TitleLines(s, metric);
  lines[0] += MissingNote(missing, s.PointCount());
  Title(lines, o.title);
  Footer(s);
}

// The inside corner where a legend box of (w, h) (fractions of the viewport)
// hides the fewest curve points; curves in viewport fractions.
PLINT LegendPosition(const std::vector<std::pair<double, double>>& pts, double w, double h) {
  struct Candidate {
    PLINT pos;
    double x0, y0;
  };
  const Candidate cands[] = {
      {PL_POSITION_TOP | PL_POSITION_RIGHT, 1 - w, 1 - h}, {PL_POSITION_TOP | PL_POSITION_LEFT, 0, 1 - h},
      {PL_POSITION_BOTTOM | PL_POSITION_RIGHT, 1 - w, 0},  {PL_POSITION_BOTTOM | PL_POSITION_LEFT, 0, 0},
      {PL_POSITION_TOP, 0.5 - w / 2, 1 - h},               {PL_POSITION_BOTTOM, 0.5 - w / 2, 0}};
  PLINT best = cands[0].pos;
  size_t best_hidden = std::numeric_limits<size_t>::max();
  for (const auto& c : cands) {
    size_t hidden = 0;
    for (const auto& [px, py] : pts) {
      hidden += (px >= c.x0 && px <= c.x0 + w && py >= c.y0 && py <= c.y0 + h) ? 1 : 0;
    }
    if (hidden < best_hidden) best_hidden = hidden, best = c.pos;
  }
  return best;
}


// The legend inside the viewport at `position`, on a translucent background
// so that a curve under it still shows.
void Legend(const std::vector<LegendEntry>& entries, PLINT position) {
  const size_t n = entries.size();
  std::vector<std::string> texts(n);
  std::vector<const char*> text_ptrs(n);
  std::vector<PLINT> opts(n), colours(n), styles(n), text_colours(n, kBlack), sym_colours(n), sym_numbers(n, 2);
  std::vector<PLFLT> widths(n), sym_scales(n, 0.9);
  std::vector<const char*> symbols(n, "•");
  for (size_t i = 0; i < n; ++i) {
    texts[i] = EscapeText(entries[i].text);
    text_ptrs[i] = texts[i].c_str();
    opts[i] = PL_LEGEND_LINE | (entries[i].marker ? PL_LEGEND_SYMBOL : 0);
    colours[i] = entries[i].colour;
    sym_colours[i] = entries[i].colour;
    styles[i] = entries[i].style;
    widths[i] = entries[i].width;
  }
  PLFLT w = 0, h = 0;
  plschr(0, 0.8 * kTextScale);
  pllegend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, position | PL_POSITION_INSIDE | PL_POSITION_VIEWPORT,
           0.02, 0.03, 0.08, kLegendBackground, kGrey, 1, 0, 0, static_cast<PLINT>(n), opts.data(), 1.0, 1.0, 1.8, 0.0,
           text_colours.data(), text_ptrs.data(), nullptr, nullptr, nullptr, nullptr, colours.data(), styles.data(),
           widths.data(), sym_colours.data(), sym_scales.data(), sym_numbers.data(), symbols.data());
  plschr(0, kTextScale);
}

}  // namespace landscape::plot::internal
