// The exporter's request parsing: limits, percent-decoding, /probe's
// parameters and the target's form; each refusal a status and a clear body.
#include <doctest/doctest.h>

#include "probe/exporter/request.hpp"

using namespace callready::exporter;

namespace {

RequestTarget parsed(const std::string& t, RequestLimits limits = {}) {
  auto r = parse_request_target(t, limits);
  REQUIRE(std::holds_alternative<RequestTarget>(r));
  return std::get<RequestTarget>(r);
}

Refusal refusal(const std::string& t, RequestLimits limits = {}) {
  auto r = parse_request_target(t, limits);
  if (auto* x = std::get_if<Refusal>(&r)) return *x;
  auto q = parse_probe_query(std::get<RequestTarget>(r));
  REQUIRE(std::holds_alternative<Refusal>(q));
  return std::get<Refusal>(q);
}

}  // namespace

TEST_CASE("the query is split and percent-decoded in order") {
  auto t = parsed("/probe?module=site%2Dbasic&target=sbc.example.com&set.port=5061&debug=true");
  CHECK(t.path == "/probe");
  REQUIRE(t.query.size() == 4);
  CHECK(t.query[0] == std::pair<std::string, std::string>{"module", "site-basic"});
  auto q = std::get<ProbeQuery>(parse_probe_query(t));
  CHECK(q.module == "site-basic");
  CHECK(q.target == "sbc.example.com");
  CHECK(q.sets.at("port") == "5061");
  CHECK(q.debug);
}

TEST_CASE("oversized targets, too many parameters and bad encoding are 400 with a reason") {
  RequestLimits small;
  small.max_target_bytes = 64;
  small.max_query_params = 3;
  auto long_target = refusal("/probe?module=" + std::string(100, 'a'), small);
  CHECK(long_target.status == 400);
  CHECK(long_target.body.find("too long") != std::string::npos);
  auto many = refusal("/probe?a=1&b=2&c=3&d=4", small);
  CHECK(many.status == 400);
  CHECK(many.body.find("too many query parameters") != std::string::npos);
  CHECK(refusal("/probe?module=%zz&target=x").body.find("percent-encoding") != std::string::npos);
  CHECK(refusal("/probe?module=%4").status == 400);
}

TEST_CASE("/probe needs a module and a target that is a host name or an address") {
  CHECK(refusal("/probe?target=a.example").body == "module parameter is missing\n");
  CHECK(refusal("/probe?module=m").body == "target parameter is missing\n");
  CHECK(refusal("/probe?module=m&target=a;rm").body.find("not a host name or an IP address") != std::string::npos);
  CHECK(refusal("/probe?module=m&target=x&set.a-b=1").status == 400);
  CHECK(refusal("/probe?module=m&target=x&debug=yes").body == "debug: expected true or false\n");
  CHECK(refusal("/probe?module=m&target=x&bogus=1").body.find("unknown query parameter 'bogus'") != std::string::npos);
}

TEST_CASE("host names and address literals") {
  for (auto ok :
       {"sbc.example.com", "203.0.113.10", "2001:db8::1", "localhost", "_sip._tcp.example.com", "a.example.com."})
    CHECK_MESSAGE(is_host_name_or_address(ok), ok);
  for (auto bad :
       {"", "-a.example", "a-.example", "a..example", "a b", "a/b", "http://x", "[::1]", "a.example.com:5061"})
    CHECK_MESSAGE(!is_host_name_or_address(bad), bad);
  CHECK(!is_host_name_or_address(std::string(64, 'a') + ".example"));
}
