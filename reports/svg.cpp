#include "reports/svg.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

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

std::optional<unsigned> parse_port(std::string_view s) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty() || v > 65535) return std::nullopt;
  return v;
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
  return "open";
}

std::string range_text(unsigned a, unsigned b) { return a == b ? std::to_string(a) : fmt::format("{}\u2013{}", a, b); }

// Pixel width of `n` characters at the pictures' 12px font (a safe over-estimate).
double text_width(std::size_t n) { return 7.2 * static_cast<double>(n); }

std::string legend(double y, const std::vector<std::pair<const char*, const char*>>& items) {
  std::string out;
  double x = 0;
  for (auto& [cls, label] : items) {
    out += fmt::format(R"(<rect class="{}" x="{}" y="{}" width="12" height="12"/><text x="{}" y="{}">{}</text>)", cls,
                       x, y, x + 16, y + 10.5, escape(label));
    x += 16 + text_width(std::string_view(label).size()) + 18;
  }
  return out;
}

std::string open_svg(double width, double height, std::string_view label) {
  return fmt::format(
      R"(<svg class="pic" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{}" width="{:.0f}" height="{:.0f}" viewBox="0 0 {:.0f} {:.0f}">)",
      escape(label), width, height, width, height);
}

}  // namespace

std::optional<PortSpan> parse_port_span(std::string_view text, PortState state) {
  auto dash = text.find('-');
  auto a = parse_port(text.substr(0, dash));
  auto b = dash == std::string_view::npos ? a : parse_port(text.substr(dash + 1));
  if (!a || !b || *a > *b) return std::nullopt;
  return PortSpan{*a, *b, state};
}

std::string port_strip(std::vector<PortSpan> spans) {
  std::sort(spans.begin(), spans.end(), [](auto& x, auto& y) { return x.first < y.first; });
  // Contiguous tested ranges, each drawn as its own strip.
  std::vector<std::vector<PortSpan>> groups;
  for (const auto& s : spans) {
    if (groups.empty() || s.first > groups.back().back().last + 1) groups.emplace_back();
    groups.back().push_back(s);
  }
  const double width = 640, bar = 22, row = 66;
  std::string body;
  double y = 0;
  for (const auto& g : groups) {
    const unsigned lo = g.front().first;
    unsigned hi = lo;
    unsigned counts[4] = {0, 0, 0, 0};
    for (const auto& s : g) {
      hi = std::max(hi, s.last);
      counts[static_cast<int>(s.state)] += s.last - s.first + 1;
    }
    const double span = static_cast<double>(hi - lo + 1);
    auto x_of = [&](unsigned p) { return (p - lo) / span * width; };
    std::string title = fmt::format("UDP {} \u00b7 {} open", range_text(lo, hi), counts[0]);
    if (counts[1]) title += fmt::format(", {} blocked", counts[1]);
    if (counts[2]) title += fmt::format(", {} rejected", counts[2]);
    if (counts[3]) title += fmt::format(", {} untested", counts[3]);
    body += fmt::format(R"(<text x="0" y="{}" class="pic-title">{}</text>)", y + 13, escape(title));
    int labelled = 0;
    for (const auto& s : g) {
      double x = x_of(s.first), w = std::max(1.5, x_of(s.last + 1) - x);
      body += fmt::format(
          R"(<rect class="port-{}" x="{:.2f}" y="{}" width="{:.2f}" height="{}"><title>{} {}</title></rect>)",
          state_name(s.state), x, y + 20, w, bar, range_text(s.first, s.last), state_name(s.state));
      if ((s.state == PortState::blocked || s.state == PortState::rejected) && labelled < 6) {
        ++labelled;
        body += fmt::format(R"(<line class="tick" x1="{0:.2f}" x2="{0:.2f}" y1="{1}" y2="{2}"/>)", x + w / 2,
                            y + 20 + bar, y + 20 + bar + 4);
      }
    }
    body += fmt::format(R"(<text x="0" y="{}">{}</text><text x="{}" y="{}" text-anchor="end">{}</text>)",
                        y + 20 + bar + 16, lo, width, y + 20 + bar + 16, hi);
    y += row;
  }
  if (groups.empty()) body += R"(<text x="0" y="14">No port was tested.</text>)", y = 24;
  body +=
      legend(y, {{"port-open", "open"}, {"port-blocked", "blocked (no answer)"}, {"port-rejected", "rejected (ICMP)"}});
  return open_svg(width, y + 14, "UDP port ranges: open, blocked and rejected ports") + body + "</svg>";
}

std::string tls_matrix(const std::vector<TlsColumn>& columns, const std::vector<TlsSuiteRow>& rows, bool has_policy) {
  std::size_t longest = 10;
  for (const auto& r : rows) longest = std::max(longest, r.name.size());
  const double label_w = text_width(longest) * 0.92 + 8, cell_w = 64, cell_h = 18, head = 40;
  const double width = label_w + cell_w * static_cast<double>(columns.size());
  std::string body;
  for (std::size_t c = 0; c < columns.size(); ++c) {
    const auto& col = columns[c];
    double cx = label_w + cell_w * static_cast<double>(c) + cell_w / 2;
    const char* cls = col.deprecated ? "bad" : col.supported ? "good" : "muted";
    body += fmt::format(R"(<text x="{0}" y="14" text-anchor="middle" class="pic-title">{1}</text>)"
                        R"(<text x="{0}" y="30" text-anchor="middle" class="{2}">{3}</text>)",
                        cx, escape(col.version), cls, col.supported ? "accepted" : "refused");
  }
  double y = head;
  for (const auto& r : rows) {
    body += fmt::format(R"(<text x="0" y="{}" class="mono">{}</text>)", y + 13, escape(r.name));
    for (std::size_t c = 0; c < columns.size(); ++c) {
      SuiteCell cell = c < r.cells.size() ? r.cells[c] : SuiteCell::off;
      const char* cls = cell == SuiteCell::allowed     ? "tls-allowed"
                        : cell == SuiteCell::forbidden ? "tls-forbidden"
                        : cell == SuiteCell::no_policy ? "tls-unknown"
                                                       : "tls-off";
      const char* what = cell == SuiteCell::allowed     ? "accepted (allowed)"
                         : cell == SuiteCell::forbidden ? "accepted (forbidden)"
                         : cell == SuiteCell::no_policy ? "accepted"
                                                        : "not accepted";
      double x = label_w + cell_w * static_cast<double>(c) + 4;
      body += fmt::format(R"(<rect class="{}" x="{}" y="{}" width="{}" height="{}"><title>{} {}: {}</title></rect>)",
                          cls, x, y + 2, cell_w - 8, cell_h - 4, escape(r.name), escape(columns[c].version), what);
    }
    y += cell_h;
  }
  if (rows.empty()) {
    body += fmt::format(R"(<text x="0" y="{}">The server accepted no cipher suite.</text>)", y + 14);
    y += 22;
  }
  if (has_policy)
    body += legend(
        y + 8, {{"tls-allowed", "allowed by policy"}, {"tls-forbidden", "not allowed"}, {"tls-off", "not accepted"}});
  else
    body += legend(y + 8, {{"tls-unknown", "accepted (no policy)"}, {"tls-off", "not accepted"}});
  return open_svg(std::max(width, 420.0), y + 24, "TLS versions and cipher suites the server accepted") + body +
         "</svg>";
}

std::string mtu_bar(std::optional<long long> path_mtu, bool black_hole) {
  const double width = 640, left = 0, bar_y = 26, bar_h = 24;
  const double scale_max = std::max<double>(1600, path_mtu ? static_cast<double>(*path_mtu) + 100 : 0);
  auto x_of = [&](double v) { return left + v / scale_max * width; };
  std::string body;
  if (path_mtu) {
    const char* cls = *path_mtu >= 1500 ? "mtu-good" : *path_mtu >= 1300 ? "mtu-warn" : "mtu-bad";
    body += fmt::format(R"(<rect class="{}" x="0" y="{}" width="{:.2f}" height="{}"/>)", cls, bar_y,
                        x_of(static_cast<double>(*path_mtu)), bar_h);
    double tx = x_of(static_cast<double>(*path_mtu));
    body += fmt::format(R"(<text x="{:.2f}" y="{}" text-anchor="{}" class="pic-title">{} bytes</text>)",
                        tx > 120 ? tx - 6 : tx + 6, bar_y + 16, tx > 120 ? "end" : "start", *path_mtu);
  } else {
    body += fmt::format(R"(<rect class="tls-off" x="0" y="{}" width="{}" height="{}"/>)", bar_y, width, bar_h);
    body += fmt::format(R"(<text x="8" y="{}">not measured</text>)", bar_y + 16);
  }
  for (auto [v, label] : {std::pair{1300, "1300 minimum"}, std::pair{1500, "1500 required"}}) {
    double x = x_of(v);
    body += fmt::format(R"(<line class="limit" x1="{0:.2f}" x2="{0:.2f}" y1="18" y2="{1}"/>)"
                        R"(<text x="{0:.2f}" y="12" text-anchor="{2}">{3}</text>)",
                        x, bar_y + bar_h + 4, v == 1300 ? "end" : "start", label);
  }
  body += fmt::format(R"(<text x="0" y="{0}">0</text><text x="{1}" y="{0}" text-anchor="end">{2:.0f} bytes</text>)",
                      bar_y + bar_h + 18, width, scale_max);
  double h = bar_y + bar_h + 24;
  if (black_hole) {
    body += fmt::format(
        R"(<text x="0" y="{}" class="bad">Larger packets vanish without an ICMP error (black hole).</text>)", h + 6);
    h += 14;
  }
  return open_svg(width, h, "Path MTU against the 1300 and 1500 byte lines") + body + "</svg>";
}

}  // namespace callready::svg
