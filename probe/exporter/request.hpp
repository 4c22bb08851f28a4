#pragma once
// What the exporter reads from a request line, as values: the path, the
// decoded query, and for /probe the module, target, set.<var> values and
// debug flag, each within limits. Every refusal carries the HTTP status
// (400/404/...) and a body that says what was wrong.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace callready::exporter {

struct RequestLimits {
  std::size_t max_target_bytes = 4096;  // the whole request target (path + query)
  std::size_t max_query_params = 32;
  std::size_t max_value_bytes = 1024;  // one decoded parameter value
};

struct Refusal {
  int status = 400;
  std::string body;
};

struct RequestTarget {
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
};

// "/probe?module=a&target=b" -> path + decoded query; a refusal when too
// long, too many parameters, or badly percent-encoded.
std::variant<RequestTarget, Refusal> parse_request_target(std::string_view target, const RequestLimits& limits);

struct ProbeQuery {
  std::string module;
  std::string target;
  std::map<std::string, std::string> sets;  // set.<var>=value
  bool debug = false;
};

// The /probe parameters: `module` and `target` required, `target` a host
// name or an IP address, `set.<var>` with a variable name, `debug` true/false.
std::variant<ProbeQuery, Refusal> parse_probe_query(const RequestTarget& request);

// A DNS host name (letters, digits, hyphens, dots; labels 1-63, total <= 253)
// or an IPv4/IPv6 address literal.
bool is_host_name_or_address(std::string_view text);

}  // namespace callready::exporter
