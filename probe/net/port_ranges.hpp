#pragma once
// Port lists as people write them ("5004,9000,19560-19661") and as reports
// show them (sorted, merged into maximal "A-B"/"A" ranges).
#include <cstdint>
#include <string>
#include <vector>

namespace callready::net {

struct PortRange {
  std::uint16_t first = 0, last = 0;
};

// "5004,9000,19560-19661" -> spans in the order written; throws
// std::invalid_argument naming the bad part (port 0, A > B, junk).
std::vector<PortRange> parse_port_ranges(const std::string& text);

// Every port of `spans`, sorted, without duplicates.
std::vector<std::uint16_t> expand_ports(const std::vector<PortRange>& spans);

// Sorted or not, duplicates or not: {1,2,3,7} -> {"1-3","7"}.
std::vector<std::string> merge_port_ranges(std::vector<std::uint16_t> ports);

}  // namespace callready::net
