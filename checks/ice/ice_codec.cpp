#include "checks/ice/ice_codec.hpp"

#include <fmt/format.h>

#include <boost/asio/ip/address.hpp>
#include <charconv>

namespace callready::checks::ice {

namespace {

bool fail(std::string* why, std::string text) {
  if (why) *why = std::move(text);
  return false;
}

// ice-char = ALPHA / DIGIT / "+" / "/" (RFC 8839 §5.1)
bool ice_chars(std::string_view s) {
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/')) return false;
  return true;
}

std::vector<std::string_view> split_spaces(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

template <class T>
bool number(std::string_view s, T& out, T min, T max) {
  unsigned long long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return false;
  if (v < static_cast<unsigned long long>(min) || v > static_cast<unsigned long long>(max)) return false;
  out = static_cast<T>(v);
  return true;
}

bool ip_literal(std::string_view s) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(std::string(s), ec);
  return !ec;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool parse_fields(const std::vector<std::string_view>& f, Candidate& c, std::string* why) {
  if (f.size() < 8) return fail(why, "a candidate needs at least 8 fields");
  c.foundation = std::string(f[0]);
  if (c.foundation.empty() || c.foundation.size() > 32 || !ice_chars(c.foundation))
    return fail(why, "foundation must be 1-32 ice-chars");
  if (!number(f[1], c.component, 1, 256)) return fail(why, "component id must be 1-256");
  c.transport = lower(f[2]);
  if (c.transport != "udp" && c.transport != "tcp") return fail(why, "transport must be UDP or TCP");
  if (!number<std::uint32_t>(f[3], c.priority, 1, 0xFFFFFFFFu)) return fail(why, "priority must be 1-4294967295");
  c.address = std::string(f[4]);
  if (!ip_literal(c.address)) return fail(why, "connection address must be an IP literal");
  if (!number<std::uint16_t>(f[5], c.port, 0, 65535)) return fail(why, "port must be 0-65535");
  if (f[6] != "typ") return fail(why, "expected \"typ\" after the port");
  c.type = std::string(f[7]);
  if (c.type != "host" && c.type != "srflx" && c.type != "prflx" && c.type != "relay")
    return fail(why, "type must be host, srflx, prflx or relay");
  for (std::size_t i = 8; i < f.size(); i += 2) {
    if (i + 1 >= f.size()) return fail(why, fmt::format("extension \"{}\" has no value", f[i]));
    auto key = f[i], value = f[i + 1];
    if (key == "raddr") {
      if (!ip_literal(value)) return fail(why, "raddr must be an IP literal");
      c.related_address = std::string(value);
    } else if (key == "rport") {
      std::uint16_t p = 0;
      if (!number<std::uint16_t>(value, p, 0, 65535)) return fail(why, "rport must be 0-65535");
      c.related_port = p;
    } else if (key == "tcptype") {
      if (value != "active" && value != "passive" && value != "so")
        return fail(why, "tcptype must be active, passive or so");
      c.tcptype = std::string(value);
    }  // other extensions (generation, network-id, ...) are ignored, as RFC 8839 asks
  }
  if (c.transport == "tcp" && c.tcptype.empty()) return fail(why, "a TCP candidate needs a tcptype");
  if (c.transport == "udp" && c.port == 0) return fail(why, "a UDP candidate needs a port");
  return true;
}

}  // namespace

std::optional<Candidate> parse_candidate(std::string_view line, std::string* why) {
  if (line.size() > 512) return fail(why, "candidate line longer than 512 bytes"), std::nullopt;
  if (line.starts_with("a=")) line.remove_prefix(2);
  if (line.starts_with("candidate:")) line.remove_prefix(10);
  for (char ch : line)
    if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) > 0x7e)
      return fail(why, "candidate line holds a control or non-ASCII byte"), std::nullopt;
  Candidate c;
  if (!parse_fields(split_spaces(line), c, why)) return std::nullopt;
  return c;
}

std::string format_candidate(const Candidate& c) {
  std::string s = fmt::format("candidate:{} {} {} {} {} {} typ {}", c.foundation, c.component,
                              c.transport == "tcp" ? "TCP" : "UDP", c.priority, c.address, c.port, c.type);
  if (!c.related_address.empty()) s += " raddr " + c.related_address;
  if (c.related_port) s += fmt::format(" rport {}", *c.related_port);
  if (!c.tcptype.empty()) s += " tcptype " + c.tcptype;
  return s;
}

nlohmann::json to_message(const Description& d) {
  nlohmann::json candidates = nlohmann::json::array();
  for (const auto& c : d.candidates) candidates.push_back(format_candidate(c));
  return {{"ufrag", d.ufrag}, {"pwd", d.pwd}, {"candidates", std::move(candidates)}};
}

std::optional<Description> from_message(const nlohmann::json& j, std::string* why) {
  auto bad = [why](std::string text) -> std::optional<Description> {
    fail(why, std::move(text));
    return std::nullopt;
  };
  if (!j.is_object()) return bad("the description is not a JSON object");
  auto ufrag = j.find("ufrag"), pwd = j.find("pwd"), list = j.find("candidates");
  if (ufrag == j.end() || !ufrag->is_string()) return bad("ufrag is missing or not a string");
  if (pwd == j.end() || !pwd->is_string()) return bad("pwd is missing or not a string");
  if (list == j.end() || !list->is_array()) return bad("candidates is missing or not a list");
  Description d;
  d.ufrag = ufrag->get<std::string>();
  d.pwd = pwd->get<std::string>();
  // RFC 8839 §5.4: ice-ufrag 4-256 ice-chars, ice-pwd 22-256 ice-chars.
  if (d.ufrag.size() < 4 || d.ufrag.size() > 256 || !ice_chars(d.ufrag)) return bad("ufrag must be 4-256 ice-chars");
  if (d.pwd.size() < 22 || d.pwd.size() > 256 || !ice_chars(d.pwd)) return bad("pwd must be 22-256 ice-chars");
  if (list->size() > kMaxCandidates) return bad(fmt::format("more than {} candidates", kMaxCandidates));
  for (const auto& item : *list) {
    if (!item.is_string()) return bad("a candidate is not a string");
    std::string reason;
    auto c = parse_candidate(item.get<std::string>(), &reason);
    if (!c) return bad(fmt::format("candidate {}: {}", d.candidates.size() + 1, reason));
    d.candidates.push_back(std::move(*c));
  }
  return d;
}

}  // namespace callready::checks::ice
