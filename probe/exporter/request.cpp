#include "probe/exporter/request.hpp"

#include <fmt/format.h>

#include <boost/asio/ip/address.hpp>

namespace callready::exporter {

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded: %XX and '+' for space.
std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      int hi = i + 1 < text.size() ? hex_digit(text[i + 1]) : -1;
      int lo = i + 2 < text.size() ? hex_digit(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

bool is_variable_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

}  // namespace

std::variant<RequestTarget, Refusal> parse_request_target(std::string_view target, const RequestLimits& limits) {
  if (target.size() > limits.max_target_bytes)
    return Refusal{
        400, fmt::format("request target too long: {} bytes (limit {})\n", target.size(), limits.max_target_bytes)};
  RequestTarget out;
  auto question = target.find('?');
  auto path = percent_decode(target.substr(0, question));
  if (!path) return Refusal{400, "malformed percent-encoding in the path\n"};
  out.path = *path;
  if (question == std::string_view::npos) return out;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    if (out.query.size() == limits.max_query_params)
      return Refusal{400, fmt::format("too many query parameters (limit {})\n", limits.max_query_params)};
    auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq));
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!key || !value) return Refusal{400, "malformed percent-encoding in the query\n"};
    if (value->size() > limits.max_value_bytes)
      return Refusal{400,
                     fmt::format("query parameter '{}' too long (limit {} bytes)\n", *key, limits.max_value_bytes)};
    out.query.emplace_back(std::move(*key), std::move(*value));
  }
  return out;
}

bool is_host_name_or_address(std::string_view text) {
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(std::string(text), ec);
  if (!ec) return true;
  if (text.empty() || text.size() > 253) return false;
  if (text.back() == '.') text.remove_suffix(1);
  std::size_t label = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '.') {
      if (label == 0 || label > 63 || text[i - 1] == '-' || text[i - label] == '-') return false;
      label = 0;
      continue;
    }
    char c = text[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
    ++label;
  }
  return true;
}

std::variant<ProbeQuery, Refusal> parse_probe_query(const RequestTarget& request) {
  ProbeQuery q;
  bool has_module = false, has_target = false;
  for (const auto& [key, value] : request.query) {
    if (key == "module") {
      q.module = value;
      has_module = true;
    } else if (key == "target") {
      q.target = value;
      has_target = true;
    } else if (key == "debug") {
      if (value != "true" && value != "false") return Refusal{400, "debug: expected true or false\n"};
      q.debug = value == "true";
    } else if (key.starts_with("set.")) {
      auto name = key.substr(4);
      if (!is_variable_name(name))
        return Refusal{400, fmt::format("{}: a variable name is letters, digits and _\n", key)};
      q.sets[name] = value;
    } else {
      return Refusal{400, fmt::format("unknown query parameter '{}' (module, target, set.<var>, debug)\n", key)};
    }
  }
  if (!has_module || q.module.empty()) return Refusal{400, "module parameter is missing\n"};
  if (!has_target || q.target.empty()) return Refusal{400, "target parameter is missing\n"};
  if (!is_host_name_or_address(q.target))
    return Refusal{400, fmt::format("target '{}' is not a host name or an IP address\n", q.target)};
  return q;
}

}  // namespace callready::exporter
