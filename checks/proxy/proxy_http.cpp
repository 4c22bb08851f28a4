#include "checks/proxy/proxy_http.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>

namespace callready::checks::proxy {
namespace {

constexpr std::string_view kEchoMagic = "callready-http-echo 1";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_token_char(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

HeadParse fail(HeadStatus s, std::string why) {
  HeadParse p;
  p.status = s;
  p.error = std::move(why);
  return p;
}

// One line of the head (without its end), or nullopt when it has not ended yet.
std::optional<std::string_view> next_line(std::string_view raw, std::size_t& pos) {
  auto lf = raw.find('\n', pos);
  if (lf == std::string_view::npos) return std::nullopt;
  auto line = raw.substr(pos, lf - pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  pos = lf + 1;
  return line;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

const HeadField* Head::find(std::string_view name) const {
  for (const auto& f : fields)
    if (iequals(f.name, name)) return &f;
  return nullptr;
}

int Head::status() const {
  if (!start_line.starts_with("HTTP/") || start_line.size() < 12 || start_line[8] != ' ') return 0;
  int code = 0;
  auto digits = std::string_view(start_line).substr(9, 3);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), code);
  if (ec != std::errc() || end != digits.data() + 3 || code < 100) return 0;
  return code;
}

bool Head::is_request() const {
  auto first = start_line.find(' ');
  auto last = start_line.rfind(' ');
  if (first == std::string::npos || first == 0 || last == first || last + 1 == start_line.size()) return false;
  auto method = std::string_view(start_line).substr(0, first);
  auto target = std::string_view(start_line).substr(first + 1, last - first - 1);
  auto version = std::string_view(start_line).substr(last + 1);
  return std::all_of(method.begin(), method.end(), is_token_char) && !target.empty() &&
         target.find(' ') == std::string_view::npos &&
         std::all_of(target.begin(), target.end(), [](char c) { return c > 0x20 && c < 0x7f; }) &&
         version.starts_with("HTTP/") && version.size() == 8;
}

const char* to_string(HeadStatus s) {
  switch (s) {
    case HeadStatus::ok:
      return "ok";
    case HeadStatus::incomplete:
      return "incomplete";
    case HeadStatus::too_large:
      return "too_large";
    case HeadStatus::invalid:
      break;
  }
  return "invalid";
}

HeadParse parse_head(std::string_view raw) {
  auto bounded = raw.substr(0, kMaxHeadBytes);
  if (bounded.find('\0') != std::string_view::npos) return fail(HeadStatus::invalid, "a NUL byte in the head");
  std::size_t pos = 0;
  auto start = next_line(bounded, pos);
  if (!start) {
    if (raw.size() >= kMaxHeadBytes) return fail(HeadStatus::too_large, "no end of the start line in 16 KiB");
    return {};
  }
  if (start->empty() || start->find(' ') == std::string_view::npos) return fail(HeadStatus::invalid, "no start line");
  HeadParse p;
  p.head.start_line = std::string(*start);
  for (;;) {
    auto line = next_line(bounded, pos);
    if (!line) {
      if (raw.size() >= kMaxHeadBytes) return fail(HeadStatus::too_large, "the head is longer than 16 KiB");
      return {};
    }
    if (line->empty()) break;
    if (line->find('\r') != std::string_view::npos) return fail(HeadStatus::invalid, "a bare CR in a field");
    if (line->front() == ' ' || line->front() == '\t')
      return fail(HeadStatus::invalid, "obsolete line folding (RFC 9112 § 5.2)");
    auto colon = line->find(':');
    if (colon == std::string_view::npos || colon == 0) return fail(HeadStatus::invalid, "a field without a name");
    auto name = line->substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_token_char))
      return fail(HeadStatus::invalid, "a field name that is not a token");
    if (p.head.fields.size() == kMaxFields) return fail(HeadStatus::too_large, "more than 100 fields");
    p.head.fields.push_back({std::string(name), std::string(trim(line->substr(colon + 1)))});
  }
  p.head.size = pos;
  p.status = HeadStatus::ok;
  return p;
}

std::string encode_echo(const EchoReport& r) {
  std::string out(kEchoMagic);
  out += "\r\nsource: " + r.source_address + " " + std::to_string(r.source_port);
  out += "\r\ntls-pin: " + (r.tls_pin.empty() ? std::string("-") : r.tls_pin);
  out += "\r\nhead-length: " + std::to_string(r.head.size()) + "\r\n\r\n";
  return out + r.head;
}

std::optional<EchoReport> decode_echo(std::string_view body) {
  auto parsed = parse_head(body);
  if (parsed.status != HeadStatus::ok || parsed.head.start_line != kEchoMagic) return std::nullopt;
  const auto* source = parsed.head.find("source");
  const auto* pin = parsed.head.find("tls-pin");
  const auto* length = parsed.head.find("head-length");
  if (!source || !pin || !length) return std::nullopt;
  EchoReport r;
  auto space = source->value.rfind(' ');
  if (space == std::string::npos) return std::nullopt;
  r.source_address = source->value.substr(0, space);
  auto port_text = std::string_view(source->value).substr(space + 1);
  unsigned port = 0;
  auto [pend, pec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (pec != std::errc() || pend != port_text.data() + port_text.size() || port > 65535) return std::nullopt;
  r.source_port = static_cast<std::uint16_t>(port);
  if (pin->value != "-") r.tls_pin = pin->value;
  std::size_t n = 0;
  auto [lend, lec] = std::from_chars(length->value.data(), length->value.data() + length->value.size(), n);
  if (lec != std::errc() || lend != length->value.data() + length->value.size()) return std::nullopt;
  auto rest = body.substr(parsed.head.size);
  if (rest.size() != n) return std::nullopt;  // truncated or padded on the way
  r.head = std::string(rest);
  return r;
}

HeadDiff compare_heads(const Head& sent, const Head& received) {
  HeadDiff d;
  d.request_line_received = received.start_line;
  d.request_line_changed = sent.start_line != received.start_line;
  // Occurrences per name, in order: the i-th sent field of a name is compared
  // with the i-th that arrived under that name.
  std::map<std::string, std::vector<const HeadField*>> sent_by, received_by;
  for (const auto& f : sent.fields) sent_by[lower(f.name)].push_back(&f);
  for (const auto& f : received.fields) received_by[lower(f.name)].push_back(&f);
  auto note = [](std::vector<std::string>& list, const std::string& name) {
    if (std::find(list.begin(), list.end(), name) == list.end()) list.push_back(name);
  };
  for (const auto& f : received.fields) {
    const auto& s = sent_by[lower(f.name)];
    const auto& r = received_by[lower(f.name)];
    auto index = static_cast<std::size_t>(std::find(r.begin(), r.end(), &f) - r.begin());
    if (index >= s.size()) note(d.added, f.name);
  }
  for (const auto& f : sent.fields) {
    const auto& s = sent_by[lower(f.name)];
    const auto& r = received_by[lower(f.name)];
    auto index = static_cast<std::size_t>(std::find(s.begin(), s.end(), &f) - s.begin());
    if (index >= r.size())
      note(d.removed, f.name);
    else if (r[index]->name != f.name || r[index]->value != f.value)
      note(d.changed, f.name);
  }
  // Order of the names both hold, as sent and as received.
  std::vector<std::string> sent_order, received_order;
  for (const auto& f : sent.fields)
    if (received_by.count(lower(f.name)) && !received_by[lower(f.name)].empty()) sent_order.push_back(lower(f.name));
  for (const auto& f : received.fields)
    if (sent_by.count(lower(f.name)) && !sent_by[lower(f.name)].empty()) received_order.push_back(lower(f.name));
  auto unique_order = [](std::vector<std::string> v) {
    std::vector<std::string> out;
    for (auto& n : v)
      if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
    return out;
  };
  d.reordered = unique_order(sent_order) != unique_order(received_order);
  return d;
}

std::vector<std::string> added_fields(const std::vector<std::string>& expected, const Head& arrived) {
  std::vector<std::string> out;
  for (const auto& f : arrived.fields) {
    bool known =
        std::any_of(expected.begin(), expected.end(), [&](const std::string& e) { return iequals(e, f.name); });
    bool listed = std::any_of(out.begin(), out.end(), [&](const std::string& e) { return iequals(e, f.name); });
    if (!known && !listed) out.push_back(f.name);
  }
  return out;
}

}  // namespace callready::checks::proxy

namespace callready::checks::proxy {

std::string echo_request_head(const std::string& host_header, const std::string& nonce) {
  return "GET /callready/echo/" + nonce + " HTTP/1.1\r\n" + "Host: " + host_header + "\r\n" +
         "User-Agent: callready-proxy-probe/1\r\n" + "accept: */*\r\n" + "X-CallReady-Case: MiXeD cAsE value\r\n" +
         "x-callready-nonce: " + nonce + "\r\n" + "Cache-Control: no-cache\r\n" + "Connection: close\r\n\r\n";
}

ResponseRead read_response(std::string_view received, bool eof) {
  ResponseRead r;
  auto parsed = parse_head(received);
  r.status = parsed.status;
  r.error = parsed.error;
  if (parsed.status == HeadStatus::incomplete) {
    if (received.size() >= kMaxHeadBytes) r.status = HeadStatus::too_large;
    if (eof) r.error = received.empty() ? "closed without an answer" : "closed in the middle of the head";
    return r;
  }
  if (parsed.status != HeadStatus::ok) return r;
  r.head = std::move(parsed.head);
  if (r.head.status() == 0) {
    r.status = HeadStatus::invalid;
    r.error = "no status line";
    return r;
  }
  auto body = received.substr(r.head.size);
  if (const auto* te = r.head.find("Transfer-Encoding"); te && !iequals(te->value, "identity")) {
    // The echo never chunks; a body in chunks came from something else. Its
    // head is enough to say so.
    r.complete = true;
    return r;
  }
  if (const auto* cl = r.head.find("Content-Length")) {
    std::size_t n = 0;
    auto [end, ec] = std::from_chars(cl->value.data(), cl->value.data() + cl->value.size(), n);
    if (ec != std::errc() || end != cl->value.data() + cl->value.size()) {
      r.status = HeadStatus::invalid;
      r.error = "a malformed Content-Length";
      return r;
    }
    if (body.size() >= n || n > kMaxResponseBytes) {
      r.body = std::string(body.substr(0, std::min(n, body.size())));
      r.complete = true;
    }
    return r;
  }
  r.body = std::string(body);
  r.complete = eof || received.size() >= kMaxResponseBytes;
  return r;
}

}  // namespace callready::checks::proxy
