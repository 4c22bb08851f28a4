// fuzz-link: check_http
// What a web server or proxy sends back to the http kind and the CONNECT
// tunnel: the answer parsed by Beast with the limits they use (fed in pieces,
// as a socket delivers it), then what we read from it ourselves: status,
// reason, Server, Location, the Date header (parse_http_date) and the
// details every report carries (to_json, dumped). Plus the URL and NO_PROXY
// parsers on the same bytes.
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "checks/common/http_proxy.hpp"
#include "checks/http/http_answer.hpp"
#include "checks/http/http_check.hpp"
#include "tests/fuzz/fuzz_target.hpp"

using namespace callready::checks;
namespace bhttp = boost::beast::http;

namespace {

// Feeds `data` to `parser` `piece` bytes at a time (what is not consumed is
// offered again with the next piece), then the end of the stream. Whether the
// header was complete.
template <class Parser>
bool feed(Parser& parser, const std::uint8_t* data, std::size_t size, std::size_t piece) {
  boost::beast::error_code ec;
  std::size_t used = 0, offered = 0;
  while (used < size && !parser.is_done()) {
    offered = std::min(size, std::max(offered, used) + piece);
    std::size_t n = parser.put(boost::asio::buffer(data + used, offered - used), ec);
    used += n;
    if (ec == bhttp::error::need_more) {
      if (offered == size) break;
      ec = {};
      continue;
    }
    if (ec) return parser.is_header_done();
  }
  if (!parser.is_done()) parser.put_eof(ec);
  return parser.is_header_done();
}

}  // namespace

CALLREADY_FUZZ_TARGET(http) {
  auto text = callready::fuzz::text_of(data, size);
  std::size_t piece = size ? 1 + data[0] % 97 : 1;

  // The http kind's answer (GET and HEAD).
  for (bool head : {false, true}) {
    http::AnswerParser parser;
    http::limit_answer(parser, head);
    if (!feed(parser, data, size, piece)) continue;
    http::HttpAttempt a;
    http::take_header(a, parser, std::chrono::system_clock::time_point{});
    a.body_bytes = parser.get().body().size();
    http::HttpResult result;
    result.url = "https://sbc.example.test/";
    http::HttpAddress where;
    where.address = "192.0.2.1";
    where.attempts.push_back(a);
    result.addresses.push_back(where);
    nlohmann::json details;
    to_json(details, result);
    (void)details.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  // A proxy's answer to CONNECT.
  {
    bhttp::response_parser<bhttp::empty_body> parser;
    parser.header_limit(http_proxy::kMaxTunnelHeader);
    parser.skip(true);
    if (feed(parser, data, size, piece)) {
      const auto& res = parser.get();
      (void)res.result_int();
      (void)std::string(res[bhttp::field::proxy_authenticate]);
    }
  }

  // Dates, URLs and NO_PROXY lists written by people or servers.
  (void)http::parse_http_date(std::string(text));
  std::string error;
  if (auto url = http_proxy::parse_url(std::string(text), error, "http")) {
    CALLREADY_FUZZ_CHECK(url->scheme == "http" || url->scheme == "https");
    (void)url->authority();
    (void)url->redacted();
    (void)http_proxy::no_proxy_match(std::string(text), url->host, url->port);
  } else {
    CALLREADY_FUZZ_CHECK(!error.empty());
  }
  (void)http_proxy::no_proxy_match(std::string(text), "sbc.example.test", 443);
  (void)http_proxy::no_proxy_match(std::string(text), "2001:db8::1", 443);
  return 0;
}
