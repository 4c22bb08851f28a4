#include "probe/net/port_ranges.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace callready::net {
namespace {

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

std::uint16_t parse_port(const std::string& text, const std::string& part) {
  unsigned value = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || value < 1 || value > 65535)
    throw std::invalid_argument("bad port \"" + part + "\": expected 1-65535 or A-B");
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::vector<PortRange> parse_port_ranges(const std::string& text) {
  std::vector<PortRange> spans;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string part = trim(text.substr(start, comma - start));
    start = comma + 1;
    if (part.empty()) throw std::invalid_argument("empty entry in port list \"" + text + "\"");
    auto dash = part.find('-');
    PortRange span;
    if (dash == std::string::npos) {
      span.first = span.last = parse_port(part, part);
    } else {
      span.first = parse_port(trim(part.substr(0, dash)), part);
      span.last = parse_port(trim(part.substr(dash + 1)), part);
      if (span.first > span.last) throw std::invalid_argument("bad range \"" + part + "\": first port above last");
    }
    spans.push_back(span);
  }
  return spans;
}

std::vector<std::uint16_t> expand_ports(const std::vector<PortRange>& spans) {
  std::vector<std::uint16_t> ports;
  for (const auto& s : spans)
    for (unsigned p = s.first; p <= s.last; ++p) ports.push_back(static_cast<std::uint16_t>(p));
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  return ports;
}

std::vector<std::string> merge_port_ranges(std::vector<std::uint16_t> ports) {
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  std::vector<std::string> out;
  for (std::size_t i = 0; i < ports.size();) {
    std::size_t j = i;
    while (j + 1 < ports.size() && ports[j + 1] == ports[j] + 1) ++j;
    out.push_back(i == j ? std::to_string(ports[i]) : std::to_string(ports[i]) + "-" + std::to_string(ports[j]));
    i = j + 1;
  }
  return out;
}

}  // namespace callready::net
