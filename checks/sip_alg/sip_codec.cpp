#include "checks/sip_alg/sip_codec.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <boost/beast/zlib/deflate_stream.hpp>
#include <boost/beast/zlib/inflate_stream.hpp>
#include <cctype>
#include <charconv>
#include <climits>
#include <memory>

namespace callready::checks::sip {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("-.!%*_+`'~").find(c) != std::string_view::npos;
}
bool is_token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_token_char); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

struct NameEntry {
  const char* compact;
  const char* full;
};
// RFC 3261 7.3.3 compact forms plus the long names we print canonically.
constexpr std::array<NameEntry, 24> kNames{{{"v", "Via"},
                                            {"f", "From"},
                                            {"t", "To"},
                                            {"i", "Call-ID"},
                                            {"m", "Contact"},
                                            {"l", "Content-Length"},
                                            {"c", "Content-Type"},
                                            {"e", "Content-Encoding"},
                                            {"s", "Subject"},
                                            {"k", "Supported"},
                                            {"o", "Event"},
                                            {"u", "Allow-Events"},
                                            {"r", "Refer-To"},
                                            {"b", "Referred-By"},
                                            {"x", "Session-Expires"},
                                            {"", "CSeq"},
                                            {"", "Max-Forwards"},
                                            {"", "User-Agent"},
                                            {"", "Allow"},
                                            {"", "Expires"},
                                            {"", "Record-Route"},
                                            {"", "Route"},
                                            {"", "Accept"},
                                            {"", "Server"}}};

ParseResult invalid(std::string why) {
  ParseResult r;
  r.status = ParseStatus::invalid;
  r.error = std::move(why);
  return r;
}

std::optional<std::size_t> parse_size(std::string_view s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  std::size_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

bool parse_start_line(std::string_view line, Message& m, std::string& error) {
  if (line.starts_with("SIP/2.0 ")) {
    m.is_request = false;
    std::string_view rest = line.substr(8);
    if (rest.size() < 3 || !std::all_of(rest.begin(), rest.begin() + 3, ::isdigit) ||
        (rest.size() > 3 && rest[3] != ' ')) {
      error = "bad status code in status line";
      return false;
    }
    m.status = (rest[0] - '0') * 100 + (rest[1] - '0') * 10 + (rest[2] - '0');
    if (m.status < 100 || m.status > 699) {
      error = "status code out of range 100-699";
      return false;
    }
    m.reason = rest.size() > 4 ? std::string(rest.substr(4)) : std::string();
    return true;
  }
  m.is_request = true;
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.substr(sp2 + 1) != "SIP/2.0") {
    error = "request line is not 'METHOD URI SIP/2.0'";
    return false;
  }
  std::string_view method = line.substr(0, sp1), uri = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (!is_token(method)) {
    error = "method is not a token";
    return false;
  }
  if (uri.empty() || uri.find_first_of(" \t") != std::string_view::npos) {
    error = "empty or malformed Request-URI";
    return false;
  }
  m.method = method;
  m.uri = uri;
  return true;
}

// Splits params of a header value at ';' outside quotes and <...>; stops at ','.
std::vector<std::string_view> split_params(std::string_view value) {
  std::vector<std::string_view> parts;
  bool quoted = false;
  int angle = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= value.size(); ++i) {
    if (i == value.size()) {  // the end closes what is open: an unclosed " or < is one last part
      parts.push_back(value.substr(start));
      break;
    }
    char c = value[i];
    if (quoted) {
      if (c == '\\' && i + 1 < value.size())
        ++i;
      else if (c == '"')
        quoted = false;
      continue;
    }
    if (c == '"') quoted = true;
    if (c == '<') ++angle;
    if (c == '>' && angle > 0) --angle;
    if (angle == 0 && (c == ';' || c == ',')) {
      parts.push_back(value.substr(start, i - start));
      start = i + 1;
      if (c == ',') break;
    }
  }
  return parts;
}

}  // namespace

std::string canonical_name(std::string_view name) {
  for (const auto& e : kNames)
    if ((*e.compact && iequals(name, e.compact)) || iequals(name, e.full)) return e.full;
  return std::string(name);
}

const std::string* Message::header(std::string_view name) const {
  std::string want = canonical_name(name);
  for (const auto& h : headers)
    if (iequals(canonical_name(h.name), want)) return &h.value;
  return nullptr;
}

std::vector<std::string> Message::all(std::string_view name) const {
  std::string want = canonical_name(name);
  std::vector<std::string> out;
  for (const auto& h : headers)
    if (iequals(canonical_name(h.name), want)) out.push_back(h.value);
  return out;
}

ParseResult parse(std::string_view data, bool datagram) {
  auto end = data.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (datagram || data.size() > kMaxMessageBytes) return invalid("no end of the header section (CRLF CRLF)");
    ParseResult r;
    r.status = ParseStatus::incomplete;
    return r;
  }
  std::string_view head = data.substr(0, end + 2);  // keeps the last header's CRLF
  if (end + 4 > kMaxMessageBytes) return invalid("header section larger than the limit");
  for (std::size_t i = 0; i < head.size(); ++i) {
    char c = head[i];
    if (c == '\0') return invalid("NUL byte in the header section");
    if (c == '\r' && head[i + 1] != '\n') return invalid("bare CR in the header section");
    if (c == '\n' && (i == 0 || head[i - 1] != '\r')) return invalid("bare LF in the header section");
  }

  ParseResult r;
  Message& m = r.message;
  std::size_t pos = head.find("\r\n");
  if (!parse_start_line(head.substr(0, pos), m, r.error)) return invalid(r.error);
  pos += 2;
  while (pos < head.size()) {
    auto eol = head.find("\r\n", pos);
    std::string_view line = head.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.empty()) return invalid("empty header line");
    if (line.front() == ' ' || line.front() == '\t') {  // folded continuation (RFC 3261 7.3.1)
      if (m.headers.empty()) return invalid("continuation line before any header");
      auto more = trim(line);
      auto& v = m.headers.back().value;
      if (!more.empty()) v += v.empty() ? std::string(more) : " " + std::string(more);
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return invalid("header line without ':'");
    auto name = trim(line.substr(0, colon));
    if (!is_token(name)) return invalid("header name is not a token");
    if (m.headers.size() == kMaxHeaders) return invalid("too many headers");
    m.headers.push_back({std::string(name), std::string(trim(line.substr(colon + 1)))});
  }

  std::optional<std::size_t> length;
  for (const auto& v : m.all("Content-Length")) {
    auto n = parse_size(v);
    if (!n) return invalid("Content-Length is not a number");
    if (length && *length != *n) return invalid("conflicting Content-Length headers");
    length = n;
  }
  std::string_view rest = data.substr(end + 4);
  if (length && end + 4 + *length > kMaxMessageBytes) return invalid("message larger than the limit");
  if (datagram) {
    if (data.size() > kMaxMessageBytes) return invalid("message larger than the limit");
    if (length && *length > rest.size()) return invalid("Content-Length larger than the body");
    m.body = rest.substr(0, length.value_or(rest.size()));
    r.consumed = data.size();
  } else {
    if (!length) return invalid("Content-Length missing on a stream transport");
    if (rest.size() < *length) {
      ParseResult more;
      more.status = ParseStatus::incomplete;
      return more;
    }
    m.body = rest.substr(0, *length);
    r.consumed = end + 4 + *length;
  }
  r.status = ParseStatus::ok;
  return r;
}

std::string serialize(const Message& m) {
  std::string out;
  if (m.is_request)
    out = m.method + " " + m.uri + " SIP/2.0\r\n";
  else
    out = "SIP/2.0 " + std::to_string(m.status) + " " + m.reason + "\r\n";
  bool has_length = false;
  for (const auto& h : m.headers) {
    bool is_length = canonical_name(h.name) == "Content-Length";
    has_length = has_length || is_length;
    out += h.name + ": " + (is_length ? std::to_string(m.body.size()) : h.value) + "\r\n";
  }
  if (!has_length) out += "Content-Length: " + std::to_string(m.body.size()) + "\r\n";
  out += "\r\n";
  out += m.body;
  return out;
}

std::optional<std::string> header_param(std::string_view value, std::string_view name) {
  auto parts = split_params(value);
  for (std::size_t i = 1; i < parts.size(); ++i) {
    auto p = trim(parts[i]);
    auto eq = p.find('=');
    if (iequals(trim(p.substr(0, eq)), name))
      return eq == std::string_view::npos ? std::string() : std::string(trim(p.substr(eq + 1)));
  }
  return std::nullopt;
}

std::string replace_params(std::string_view value, const std::vector<std::string>& remove, std::string_view append) {
  auto parts = split_params(value);
  std::size_t used = 0;
  for (auto p : parts) used += p.size() + 1;
  std::string out(parts.empty() ? value : parts.front());
  for (std::size_t i = 1; i < parts.size(); ++i) {
    auto p = trim(parts[i]);
    auto key = trim(p.substr(0, p.find('=')));
    if (std::none_of(remove.begin(), remove.end(), [&](const std::string& r) { return iequals(r, key); }))
      out += ";" + std::string(p);
  }
  out += append;
  if (used > 0 && used < value.size()) out += std::string(value.substr(used - 1));  // ", next-value" kept as is
  return out;
}

std::optional<std::vector<SdpLine>> parse_sdp(std::string_view body) {
  std::vector<SdpLine> lines;
  while (!body.empty()) {
    auto nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    body = nl == std::string_view::npos ? std::string_view() : body.substr(nl + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.size() < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z') return std::nullopt;
    if (line.find_first_of(std::string_view("\r\0", 2)) != std::string_view::npos) return std::nullopt;
    lines.push_back({line[0], std::string(line.substr(2))});
    if (lines.size() > 256) return std::nullopt;
  }
  return lines;
}

std::string base64_encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// The streaming decoder, not EVP_DecodeBlock: it honours the padding and
// rejects data after it ("Zg==Zg==", "Z=9v") instead of decoding zeros.
std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0 || text.size() > std::size_t(INT_MAX)) return std::nullopt;
  std::unique_ptr<EVP_ENCODE_CTX, decltype(&EVP_ENCODE_CTX_free)> ctx(EVP_ENCODE_CTX_new(), EVP_ENCODE_CTX_free);
  if (!ctx) return std::nullopt;
  EVP_DecodeInit(ctx.get());
  std::string out(text.size() / 4 * 3 + 3, '\0');
  int n = 0, tail = 0;
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (EVP_DecodeUpdate(ctx.get(), o, &n, reinterpret_cast<const unsigned char*>(text.data()),
                       static_cast<int>(text.size())) < 0 ||
      EVP_DecodeFinal(ctx.get(), o + n, &tail) != 1)
    return std::nullopt;
  out.resize(static_cast<std::size_t>(n + tail));
  return out;
}

std::string deflate_raw(std::string_view data) {
  namespace zlib = boost::beast::zlib;
  zlib::deflate_stream ds;
  ds.reset(9, 15, 8, zlib::Strategy::normal);  // raw deflate: Beast writes no zlib header
  std::string out(ds.upper_bound(data.size()) + 16, '\0');
  zlib::z_params zs;
  zs.next_in = data.data();
  zs.avail_in = data.size();
  zs.next_out = out.data();
  zs.avail_out = out.size();
  boost::system::error_code ec;
  ds.write(zs, zlib::Flush::finish, ec);
  out.resize(zs.total_out);
  return out;
}

std::optional<std::string> inflate_raw(std::string_view data, std::size_t limit) {
  namespace zlib = boost::beast::zlib;
  zlib::inflate_stream is;
  // Beast's inflate can stop one step short of a stream's end when the input
  // ends right after it (need_buffers with the whole output written, about 1
  // stream in 1000 with long padding): a few bytes after the end, which
  // inflate never reads, let it see the end-of-block.
  std::string input(data);
  input.append(8, '\0');
  std::string out(limit + 1, '\0');
  zlib::z_params zs;
  zs.next_in = input.data();
  zs.avail_in = input.size();
  zs.next_out = out.data();
  zs.avail_out = out.size();
  boost::system::error_code ec;
  is.write(zs, zlib::Flush::finish, ec);
  if (ec != zlib::error::end_of_stream || zs.total_out > limit) return std::nullopt;
  out.resize(zs.total_out);
  return out;
}

std::string encode_mirror(const Mirror& m) {
  return base64_encode(deflate_raw(m.source_ip + " " + std::to_string(m.source_port) + "\n" + m.request));
}

std::optional<Mirror> decode_mirror(std::string_view body) {
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
  auto packed = base64_decode(body);
  if (!packed) return std::nullopt;
  auto plain = inflate_raw(*packed, kMaxMessageBytes + 64);
  if (!plain) return std::nullopt;
  auto nl = plain->find('\n');
  if (nl == std::string::npos) return std::nullopt;
  std::string_view first(plain->data(), nl);
  auto sp = first.rfind(' ');
  if (sp == std::string_view::npos || sp == 0) return std::nullopt;
  auto port = parse_size(first.substr(sp + 1));
  if (!port || *port == 0 || *port > 65535) return std::nullopt;
  Mirror m;
  m.source_ip = first.substr(0, sp);
  m.source_port = static_cast<unsigned short>(*port);
  m.request = plain->substr(nl + 1);
  return m;
}

std::string auth_value(std::string_view token, std::string_view method, long long unix_seconds,
                       std::string_view nonce) {
  std::string seconds = std::to_string(unix_seconds);
  std::string input = "callready-sip|" + std::string(method) + "|" + seconds + "|" + std::string(nonce);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), token.data(), static_cast<int>(token.size()), reinterpret_cast<const unsigned char*>(input.data()),
       input.size(), mac, &len);
  static const char* hex = "0123456789abcdef";
  std::string out = seconds + "." + std::string(nonce) + ".";
  for (unsigned i = 0; i < 16 && i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out;
}

bool auth_verifies(std::string_view value, std::string_view token, std::string_view method, long long now_seconds) {
  auto dot1 = value.find('.');
  if (dot1 == std::string_view::npos || dot1 == 0 || dot1 > 12) return false;
  auto dot2 = value.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || dot2 - dot1 - 1 > 64) return false;
  long long seconds = 0;
  for (char c : value.substr(0, dot1)) {
    if (c < '0' || c > '9') return false;
    seconds = seconds * 10 + (c - '0');
  }
  if (seconds > now_seconds + kAuthMaxSkewSeconds || seconds < now_seconds - kAuthMaxSkewSeconds) return false;
  auto expected = auth_value(token, method, seconds, value.substr(dot1 + 1, dot2 - dot1 - 1));
  return expected.size() == value.size() && CRYPTO_memcmp(expected.data(), value.data(), value.size()) == 0;
}

}  // namespace callready::checks::sip
