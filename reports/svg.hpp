#pragma once
// Inline SVG pictures for the HTML report. Every function escapes every piece
// of text it draws, so its output may be placed into the page unescaped
// ({{{svg}}}); colours come from CSS classes so the page's light/dark theme
// applies to the pictures too.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace callready::svg {

// Escapes & < > " ' for XML/HTML text and attribute values.
std::string escape(std::string_view text);

enum class PortState { open, blocked, rejected, untested };

struct PortSpan {
  unsigned first = 0;
  unsigned last = 0;  // inclusive
  PortState state = PortState::open;
};

// Parses "A-B" or "A"; nullopt for anything else (or A > B, or > 65535).
std::optional<PortSpan> parse_port_span(std::string_view text, PortState state);

// One strip per contiguous tested range: each span coloured by its state.
std::string port_strip(std::vector<PortSpan> spans);

// One cell of the TLS matrix: not accepted, or accepted and judged by the policy.
enum class SuiteCell { off, allowed, forbidden, no_policy };

struct TlsSuiteRow {
  std::string name;
  std::vector<SuiteCell> cells;  // one per column
};

struct TlsColumn {
  std::string version;  // "tls1.2"
  bool supported = false;
  bool deprecated = false;  // supported but not allowed (TLS 1.0/1.1, or outside the policy)
};

// Suites down, versions across; a filled cell is a suite the server accepted
// with that version, coloured by the policy (`has_policy` picks the legend).
std::string tls_matrix(const std::vector<TlsColumn>& columns, const std::vector<TlsSuiteRow>& rows, bool has_policy);

// The measured path MTU as a bar against the 1300 (minimum) and 1500 (required) lines.
std::string mtu_bar(std::optional<long long> path_mtu, bool black_hole);

}  // namespace callready::svg
