#include "probe/net/port_ranges.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

#include "probe/respond/responder.hpp"

using namespace callready::net;

TEST_CASE("port lists parse as people write them") {
  auto spans = parse_port_ranges("5004, 9000,19560-19661");
  REQUIRE(spans.size() == 3);
  CHECK(spans[0].first == 5004);
  CHECK(spans[0].last == 5004);
  CHECK(spans[2].first == 19560);
  CHECK(spans[2].last == 19661);
  CHECK(expand_ports(spans).size() == 1 + 1 + 102);
  auto r = parse_port_ranges("1-3,65535");
  REQUIRE(r.size() == 2);
  CHECK(r[1].first == 65535);
}

TEST_CASE("bad port lists name the bad part") {
  for (const char* bad : {"", "0", "70000", "5-3", "a", "1,,2", "1-", "-5", "1-2-3", "5004x"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse_port_ranges(bad), std::invalid_argument);
  }
  try {
    parse_port_ranges("5004,9000-8000");
    FAIL("expected a throw");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("9000-8000") != std::string::npos);
  }
}

TEST_CASE("ports merge into maximal ranges") {
  CHECK(merge_port_ranges({7, 1, 2, 3, 3, 9, 10}) == std::vector<std::string>{"1-3", "7", "9-10"});
  CHECK(merge_port_ranges({}).empty());
  CHECK(merge_port_ranges({65534, 65535, 1}) == std::vector<std::string>{"1", "65534-65535"});
}
