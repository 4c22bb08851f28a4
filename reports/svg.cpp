#include "reports/svg.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace callready::svg {

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

using view::PortState;
using view::Tone;

const char* tone_name(Tone t) {
  switch (t) {
    case Tone::plain:
      return "plain";
    case Tone::good:
      return "good";
    case Tone::bad:
      return "bad";
    case Tone::warn:
      return "warn";
    case Tone::muted:
      return "muted";
  }
  return "plain";
}

const char* state_name(PortState s) {
  switch (s) {
    case PortState::open:
      return "open";
    case PortState::blocked:
      return "blocked";
    case PortState::rejected:
      return "rejected";
    case PortState::untested:
      return "untested";
  }
  return "untested";
}

std::string range_text(unsigned a, unsigned b) { return a == b ? std::to_string(a) : fmt::format("{}\u2013{}", a, b); }

// A number as a person writes it: 1500, 12.5, 0.0042.
std::string number_text(double v) {
  if (std::abs(v) < 1e12 && v == std::round(v)) return fmt::format("{:.0f}", v);
  return fmt::format("{:.4g}", v);
}

std::string with_unit(double v, const std::string& unit) {
  return unit.empty() ? number_text(v) : number_text(v) + " " + unit;
}

// Pixel width of `n` characters at the pictures' 12px font (a safe over-estimate).
double text_width(std::size_t n) { return 7.2 * static_cast<double>(n); }

struct LegendItem {
  std::string cls;
  std::string label;
};

// Legend boxes in one line from (0, y); returns the width it took.
double legend(std::string& out, double y, const std::vector<LegendItem>& items) {
  double x = 0;
  for (const auto& [cls, label] : items) {
    out += fmt::format(R"(<rect class="{}" x="{}" y="{}" width="12" height="12"/><text x="{}" y="{}">{}</text>)", cls,
                       x, y, x + 16, y + 10.5, escape(label));
    x += 16 + text_width(label.size()) + 18;
  }
  return x;
}

std::string open_svg(double width, double height, std::string_view label) {
  return fmt::format(
      R"(<svg class="pic" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{}" width="{:.0f}" height="{:.0f}" viewBox="0 0 {:.0f} {:.0f}">)",
      escape(label), width, height, width, height);
}

}  // namespace

std::string port_strip(const view::PortStrip& strip) {
  std::vector<view::PortSpan> spans = strip.spans;
  for (auto& s : spans)
    if (s.first > s.last) std::swap(s.first, s.last);
  std::sort(spans.begin(), spans.end(),
            [](const auto& x, const auto& y) { return x.first != y.first ? x.first < y.first : x.last < y.last; });
  // Contiguous runs of ports, each drawn as its own strip.
  std::vector<std::vector<view::PortSpan>> groups;
  unsigned group_end = 0;
  for (const auto& s : spans) {
    if (groups.empty() || s.first > group_end + 1u) groups.emplace_back();
    groups.back().push_back(s);
    group_end = groups.back().size() == 1 ? s.last : std::max<unsigned>(group_end, s.last);
  }
  const double width = 640, bar = 22, row = 66;
  std::string body;
  double y = 0;
  bool any_untested = false;
  for (const auto& g : groups) {
    const unsigned lo = g.front().first;
    unsigned hi = lo;
    unsigned counts[4] = {0, 0, 0, 0};
    for (const auto& s : g) {
      hi = std::max<unsigned>(hi, s.last);
      counts[static_cast<int>(s.state)] += static_cast<unsigned>(s.last) - s.first + 1;
    }
    any_untested = any_untested || counts[3] > 0;
    const double span = static_cast<double>(hi - lo + 1);
    auto x_of = [&](unsigned p) { return (p - lo) / span * width; };
    std::string title = fmt::format("{} \u00b7 {} open", range_text(lo, hi), counts[0]);
    if (counts[1]) title += fmt::format(", {} blocked", counts[1]);
    if (counts[2]) title += fmt::format(", {} rejected", counts[2]);
    if (counts[3]) title += fmt::format(", {} untested", counts[3]);
    body += fmt::format(R"(<text x="0" y="{}" class="pic-title">{}</text>)", y + 13, escape(title));
    int ticks = 0;
    for (const auto& s : g) {
      double x = x_of(s.first), w = std::max(1.5, x_of(s.last + 1u) - x);
      body += fmt::format(
          R"(<rect class="port-{}" x="{:.2f}" y="{}" width="{:.2f}" height="{}"><title>{} {}</title></rect>)",
          state_name(s.state), x, y + 20, w, bar, range_text(s.first, s.last), state_name(s.state));
      // A tick under the first few closed spans, so a one-port gap is seen.
      if ((s.state == PortState::blocked || s.state == PortState::rejected) && ticks < 6) {
        ++ticks;
        body += fmt::format(R"(<line class="tick" x1="{0:.2f}" x2="{0:.2f}" y1="{1}" y2="{2}"/>)", x + w / 2,
                            y + 20 + bar, y + 20 + bar + 4);
      }
    }
    body += fmt::format(R"(<text x="0" y="{}">{}</text><text x="{}" y="{}" text-anchor="end">{}</text>)",
                        y + 20 + bar + 16, lo, width, y + 20 + bar + 16, hi);
    y += row;
  }
  if (groups.empty()) body += R"(<text x="0" y="14">No port was tested.</text>)", y = 24;
  std::vector<LegendItem> items = {
      {"port-open", "open"}, {"port-blocked", "blocked (no answer)"}, {"port-rejected", "rejected"}};
  if (any_untested) items.push_back({"port-untested", "untested"});
  legend(body, y, items);
  return open_svg(width, y + 14, strip.caption.empty() ? "Ports by state" : strip.caption) + body + "</svg>";
}

std::string matrix(const view::Matrix& m) {
  auto meaning = [&](Tone t) -> std::string {
    switch (t) {
      case Tone::good:
        return m.legend_good;
      case Tone::bad:
        return m.legend_bad;
      case Tone::plain:
        return m.legend_plain;
      case Tone::warn:
        return "doubtful";
      case Tone::muted:
        return "absent";
    }
    return {};
  };
  std::size_t longest = 10, widest = 6;
  for (const auto& r : m.rows) longest = std::max(longest, r.label.size());
  for (const auto& c : m.columns) widest = std::max(widest, c.label.size());
  const double label_w = text_width(longest) * 0.92 + 8, cell_w = text_width(widest) + 12, cell_h = 18, head = 24;
  const double grid_w = label_w + cell_w * static_cast<double>(m.columns.size());
  std::string body;
  for (std::size_t c = 0; c < m.columns.size(); ++c) {
    const auto& col = m.columns[c];
    double cx = label_w + cell_w * static_cast<double>(c) + cell_w / 2;
    body += fmt::format(R"(<text x="{}" y="14" text-anchor="middle" class="pic-title {}">{}</text>)", cx,
                        tone_name(col.tone), escape(col.label));
  }
  bool used[5] = {false, false, false, false, false};
  double y = head;
  for (const auto& r : m.rows) {
    body += fmt::format(R"(<text x="0" y="{}" class="mono">{}</text>)", y + 13, escape(r.label));
    for (std::size_t c = 0; c < m.columns.size(); ++c) {
      Tone cell = c < r.cells.size() ? r.cells[c] : Tone::muted;
      used[static_cast<int>(cell)] = true;
      double x = label_w + cell_w * static_cast<double>(c) + 4;
      body += fmt::format(R"(<rect class="t-{}" x="{}" y="{}" width="{}" height="{}"><title>{} {}: {}</title></rect>)",
                          tone_name(cell), x, y + 2, cell_w - 8, cell_h - 4, escape(r.label),
                          escape(m.columns[c].label), escape(meaning(cell)));
    }
    y += cell_h;
  }
  if (m.rows.empty()) {
    body += fmt::format(R"(<text x="0" y="{}">Nothing to show.</text>)", y + 14);
    y += 22;
  }
  std::vector<LegendItem> items;
  for (Tone t : {Tone::good, Tone::bad, Tone::warn, Tone::plain, Tone::muted})
    if (used[static_cast<int>(t)]) items.push_back({std::string("t-") + tone_name(t), meaning(t)});
  double legend_w = legend(body, y + 8, items);
  return open_svg(std::max({grid_w, legend_w, 420.0}), y + 24, m.caption.empty() ? "Matrix" : m.caption) + body +
         "</svg>";
}

std::string bar(const view::Bar& b) {
  const double width = 640, bar_h = 24;
  // Absent or not a number: nothing measured.
  const bool measured = b.value && std::isfinite(*b.value);
  const double value = measured ? *b.value : 0;
  std::vector<view::Bar::Threshold> thresholds;
  for (const auto& t : b.thresholds)
    if (std::isfinite(t.value)) thresholds.push_back(t);
  std::sort(thresholds.begin(), thresholds.end(), [](auto& x, auto& y) { return x.value < y.value; });

  // The scale: the view's, or one that holds the value and every line.
  double lo = std::isfinite(b.min) ? b.min : 0, hi = std::isfinite(b.max) ? b.max : 0;
  if (!(hi > lo)) {
    hi = lo;
    for (const auto& t : thresholds) hi = std::max(hi, t.value);
    if (measured) hi = std::max(hi, value);
    hi = hi > lo ? lo + (hi - lo) * 1.07 : lo + 1;
  }
  auto x_of = [&](double v) { return std::clamp((v - lo) / (hi - lo), 0.0, 1.0) * width; };

  // Threshold labels above the bar, one line further down when two would overlap.
  struct Placed {
    double x;
    bool end;
    int row;
    std::string label;
  };
  std::vector<Placed> placed;
  constexpr int kLabelRows = 3;
  double row_end[kLabelRows] = {-1e9, -1e9, -1e9};
  int rows_used = 1;
  for (std::size_t i = 0; i < thresholds.size(); ++i) {
    const auto& t = thresholds[i];
    std::string label = t.label.empty() ? with_unit(t.value, b.unit) : t.label;
    const double x = x_of(t.value), w = text_width(label.size()) + 3;
    bool end = i == 0 && thresholds.size() > 1;
    if (end && x - w < 0) end = false;
    if (!end && x + w > width) end = true;
    const double from = end ? x - w : x, to = end ? x : x + w;
    int row = 0;
    while (row + 1 < kLabelRows && from <= row_end[row] + 4) ++row;
    row_end[row] = std::max(row_end[row], to);
    rows_used = std::max(rows_used, row + 1);
    placed.push_back({x, end, row, std::move(label)});
  }
  const double bar_y = 12.0 + 14.0 * rows_used;

  // The bar, then the lines across it, then every label on top: a label
  // carries a halo of the page's colour, so a line behind it stays readable.
  std::string body;
  if (measured)
    body += fmt::format(R"(<rect class="t-{}" x="0" y="{}" width="{:.2f}" height="{}"/>)", tone_name(b.tone), bar_y,
                        std::max(x_of(value), 1.5), bar_h);
  else
    body += fmt::format(R"(<rect class="t-muted" x="0" y="{}" width="{}" height="{}"/>)", bar_y, width, bar_h);
  for (const auto& p : placed)
    body += fmt::format(R"(<line class="limit" x1="{0:.2f}" x2="{0:.2f}" y1="{1}" y2="{2}"/>)", p.x, 16 + 14 * p.row,
                        bar_y + bar_h + 4);
  for (std::size_t i = 0; i < placed.size(); ++i) {
    const auto& p = placed[i];
    body +=
        fmt::format(R"(<text x="{:.2f}" y="{}" text-anchor="{}" class="halo {}">{}</text>)", p.end ? p.x - 3 : p.x + 3,
                    12 + 14 * p.row, p.end ? "end" : "start", tone_name(thresholds[i].tone), escape(p.label));
  }
  if (measured) {
    const double tx = x_of(value);
    body += fmt::format(R"(<text x="{:.2f}" y="{}" text-anchor="{}" class="pic-title">{}</text>)",
                        tx > 120 ? tx - 6 : tx + 6, bar_y + 16, tx > 120 ? "end" : "start",
                        escape(with_unit(value, b.unit)));
  } else {
    body += fmt::format(R"(<text x="8" y="{}">not measured</text>)", bar_y + 16);
  }
  body += fmt::format(R"(<text x="0" y="{0}">{1}</text><text x="{2}" y="{0}" text-anchor="end">{3}</text>)",
                      bar_y + bar_h + 18, escape(number_text(lo)), width, escape(with_unit(hi, b.unit)));
  double h = bar_y + bar_h + 24;
  if (!b.note.empty()) {
    body += fmt::format(R"(<text x="0" y="{}" class="{}">{}</text>)", h + 6, tone_name(b.tone), escape(b.note));
    h += 14;
  }
  std::string label = b.caption.empty() ? "Measured value" : b.caption;
  label += measured ? ": " + with_unit(value, b.unit) : ": not measured";
  return open_svg(width, h, label) + body + "</svg>";
}

namespace {

// The smallest 1, 2 or 5 times a power of ten at or above v (v > 0).
double round_up_scale(double v) {
  double p = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= v * (1 - 1e-9)) return m * p;
  return 10 * p;
}

}  // namespace

std::string series(const view::Series& s) {
  std::size_t longest = 0;
  for (const auto& lane : s.lanes) longest = std::max(longest, lane.label.size());
  const double width = 640, left = std::max(60.0, text_width(longest) + 8), right = 10, top = 10, plot_h = 150,
               lane_h = 18, plot_w = width - left - right;
  auto finite = [](double v) { return std::isfinite(v); };

  // The x axis: the view's, or one that holds every point and mark.
  double x_lo = s.x_min, x_hi = s.x_max;
  if (!(finite(x_lo) && finite(x_hi) && x_hi > x_lo)) {
    bool any = false;
    auto take = [&](double x) {
      if (!finite(x)) return;
      x_lo = any ? std::min(x_lo, x) : x;
      x_hi = any ? std::max(x_hi, x) : x;
      any = true;
    };
    for (const auto& p : s.points) take(p.x);
    for (const auto& lane : s.lanes)
      for (double x : lane.x) take(x);
    if (!any) x_lo = 0, x_hi = 0;
    if (!(x_hi > x_lo)) x_hi = x_lo + 1;
  }
  // The y axis from 0 to a round number above every value and line.
  double y_max = 0;
  std::size_t values = 0;
  for (const auto& p : s.points)
    if (p.y && finite(*p.y) && finite(p.x)) y_max = std::max(y_max, *p.y), ++values;
  for (const auto& l : s.lines)
    if (finite(l.value)) y_max = std::max(y_max, l.value);
  const double y_hi = y_max > 0 && finite(y_max * 1.05) ? round_up_scale(y_max * 1.05) : y_max > 0 ? y_max : 1;
  auto x_of = [&](double x) { return left + std::clamp((x - x_lo) / (x_hi - x_lo), 0.0, 1.0) * plot_w; };
  auto y_of = [&](double y) { return top + plot_h - std::clamp(y / y_hi, 0.0, 1.0) * plot_h; };

  std::string body;
  // Grid and y labels: 0, half, top.
  for (double f : {0.0, 0.5, 1.0}) {
    double y = y_of(f * y_hi);
    body += fmt::format(R"svg(<line x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}" style="stroke:var(--line)"/>)svg", left,
                        left + plot_w, y, y);
    body += fmt::format(R"svg(<text x="{}" y="{:.1f}" text-anchor="end">{}</text>)svg", left - 4, y + 4,
                        escape(with_unit(f * y_hi, s.y_unit)));
  }
  // The line: one polyline per run of points with values.
  std::string run;
  std::size_t run_points = 0;
  auto flush = [&] {
    if (run_points > 0)
      body += fmt::format(
          R"svg(<polyline class="series" points="{}" style="fill:none;stroke:var(--info);stroke-width:1.5;stroke-linejoin:round;stroke-linecap:round"/>)svg",
          run);
    run.clear();
    run_points = 0;
  };
  for (const auto& p : s.points) {
    if (!finite(p.x)) continue;
    if (!p.y || !finite(*p.y)) {
      flush();
      continue;
    }
    if (run_points > 0) run += ' ';
    run += fmt::format("{:.1f},{:.1f}", x_of(p.x), y_of(*p.y));
    ++run_points;
  }
  flush();
  // Reference lines across the plot, labelled at their right end.
  for (const auto& l : s.lines) {
    if (!finite(l.value)) continue;
    double y = y_of(l.value);
    std::string label = l.label.empty() ? with_unit(l.value, s.y_unit) : l.label;
    body += fmt::format(R"svg(<line class="limit" x1="{0}" x2="{1}" y1="{2:.1f}" y2="{2:.1f}"/>)svg", left,
                        left + plot_w, y);
    body += fmt::format(R"svg(<text x="{}" y="{:.1f}" text-anchor="end" class="halo {}">{}</text>)svg",
                        left + plot_w - 2, y - 4, tone_name(l.tone), escape(label));
  }
  // A lane per kind of mark; marks on the same pixel are drawn once.
  double y = top + plot_h + 6;
  std::size_t marks = 0;
  for (const auto& lane : s.lanes) {
    body += fmt::format(R"svg(<text x="{}" y="{:.1f}" text-anchor="end">{}</text>)svg", left - 4, y + 12,
                        escape(lane.label));
    body += fmt::format(R"svg(<rect class="t-muted" x="{}" y="{:.1f}" width="{}" height="{}"/>)svg", left, y + 2,
                        plot_w, lane_h - 4);
    std::vector<bool> drawn(static_cast<std::size_t>(2 * width) + 2, false);  // half-pixel bins
    for (double x : lane.x) {
      if (!finite(x)) continue;
      auto bin = static_cast<std::size_t>(std::lround(x_of(x) * 2));
      if (drawn[bin]) continue;
      drawn[bin] = true;
      body += fmt::format(R"svg(<rect class="mark t-{}" x="{:.1f}" y="{:.1f}" width="2" height="{}"/>)svg",
                          tone_name(lane.tone), std::min(x_of(x) - 1, left + plot_w - 2), y + 1, lane_h - 2);
      ++marks;
    }
    y += lane_h;
  }
  // The x axis labels.
  body += fmt::format(R"svg(<text x="{}" y="{:.1f}">{}</text>)svg", left, y + 14, escape(with_unit(x_lo, s.x_unit)));
  body += fmt::format(R"svg(<text x="{}" y="{:.1f}" text-anchor="end">{}</text>)svg", left + plot_w, y + 14,
                      escape(with_unit(x_hi, s.x_unit)));
  if (values == 0)
    body += fmt::format(R"svg(<text x="{}" y="{:.1f}">Nothing measured.</text>)svg", left + 8, top + plot_h / 2);
  else if (!s.y_label.empty())
    body += fmt::format(
        R"svg(<line x1="{0}" x2="{1}" y1="{2}" y2="{2}" style="stroke:var(--info);stroke-width:2"/><text x="{3}" y="{4}">{5}</text>)svg",
        left + 8, left + 26, top + 8, left + 32, top + 12, escape(s.y_label));
  std::string label = s.caption.empty() ? "Series" : s.caption;
  label += fmt::format(": {} values up to {}, {} marks", values, with_unit(y_max, s.y_unit), marks);
  return open_svg(width, y + 22, label) + body + "</svg>";
}

}  // namespace callready::svg
