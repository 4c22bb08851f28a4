// media_quality on loopback against a real `callready respond`: a clean
// stream of each codec passes with no loss and MOS >= 4.3, the responder's
// counters match what was sent; the set-up errors (a port the responder does
// not serve, a wrong token); a responder that dies mid-stream is a finding
// within the deadline, never a hang. Loss, delay and jitter of real paths
// are in the namespace lab (tests/lab/media_quality_*).
#include "checks/media_quality/media_quality_check.hpp"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <thread>

#include "checks/media_quality/media_quality_stream.hpp"
#include "probe/net/resolver.hpp"
#include "probe/net/responder_control.hpp"
#include "tests/integration/responder_support.hpp"

using namespace callready;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

CheckOutcome run_media(const json& params, unsigned short control, const std::string& token = "") {
  static const CheckKind kind = checks::media_quality_check_kind();
  REQUIRE(kind.validate(params).empty());
  asio::io_context io;
  net::Resolver resolver(io.get_executor(), std::nullopt);
  ScanSettings settings;
  settings.token = token;
  settings.responder = "127.0.0.1:" + std::to_string(control);
  net::ResponderLink link(io.get_executor(), control, token);
  CheckContext ctx{io.get_executor(), resolver, Clock::now() + 30s, settings, link, nullptr};
  return test::run_io(io, kind.run(params, ctx));
}

bool has_code(const CheckOutcome& o, const std::string& code) {
  return std::any_of(o.findings.begin(), o.findings.end(), [&](const Finding& f) { return f.code == code; });
}

}  // namespace

TEST_CASE("a clean loopback stream of each codec: no loss either way, MOS >= 4.3 where scored, the counts add up") {
  test::TempDir dir;
  auto r = test::start_responder(dir, 1);
  for (const char* codec : {"g711", "opus", "video"}) {
    CAPTURE(codec);
    auto o = run_media({{"host", "127.0.0.1"}, {"port", r.udp_first}, {"codec", codec}, {"duration_s", 2}}, r.control);
    REQUIRE_MESSAGE(!o.error, o.summary);
    const auto& d = o.details;
    int expected = codec == std::string("video") ? 2'000'000 / 5867 : 100;
    CHECK(d["upstream"]["sent"] == expected);
    CHECK(d["upstream"]["received"] == expected);
    CHECK(d["downstream"]["sent"] == expected);
    CHECK(d["downstream"]["received"] == expected);
    CHECK(d["upstream"]["loss_pct"] == 0);
    CHECK(d["downstream"]["loss_pct"] == 0);
    CHECK(d["upstream"]["duplicates"] == 0);
    CHECK(d["rtt_ms"]["median"].get<double>() < 5);
    if (codec == std::string("g711")) {
      CHECK(d["mos"].get<double>() >= 4.3);
    } else {  // no published E-model constants: no score, and the reason
      CHECK(d["mos"].is_null());
      CHECK(d["mos_note"].is_string());
    }
    CHECK(d["codec"] == codec);
    CHECK(d["source_port"].get<int>() > 0);  // the ephemeral port the stream left from
    // Only the clock finding (when this machine or the responder is not synchronised) may remain.
    for (const auto& f : o.findings) CHECK(f.code == "media_quality.clock_unsynchronised");
  }
}

TEST_CASE("a chosen source port range and DSCP are used, a busy port skipped") {
  test::TempDir dir;
  auto r = test::start_responder(dir, 1);
  auto first = test::free_udp_block(2);
  asio::io_context io;
  asio::ip::udp::socket busy(io, {asio::ip::address_v4::any(), first});  // as a running app would hold it
  std::string range = std::to_string(first) + "-" + std::to_string(first + 1);
  auto o = run_media(
      {{"host", "127.0.0.1"}, {"port", r.udp_first}, {"source_port", range}, {"duration_s", 1}, {"dscp", "AF41"}},
      r.control);
  REQUIRE_MESSAGE(!o.error, o.summary);
  CHECK(o.details["source_port"] == first + 1);
  CHECK(o.details["dscp"] == 34);
  CHECK(o.details["upstream"]["received"] == 50);
}

TEST_CASE("a port the responder does not serve is a set-up error") {
  test::TempDir dir;
  auto r = test::start_responder(dir, 1);
  auto o = run_media({{"host", "127.0.0.1"}, {"port", r.udp_first + 1}, {"duration_s", 1}}, r.control);
  REQUIRE(o.error);
  CHECK(o.error->reason == ErrorReason::setup);
}

TEST_CASE("a closed UDP port answered with ICMP ends the stream within a round trip") {
  // No responder: nothing listens on the port, and the kernel answers the
  // first packet with ICMP port unreachable (what a REJECT rule sends too).
  asio::io_context io;
  asio::ip::udp::endpoint closed(asio::ip::make_address("127.0.0.1"), test::free_port(true));
  checks::EchoSocket socket(io.get_executor());
  REQUIRE_FALSE(socket.open(asio::ip::udp::v4(), {}));
  auto started = std::chrono::steady_clock::now();
  auto stream = test::run_io(io, checks::run_media_stream(socket, closed, *checks::media_codec("g711"), 3, 1, 6000ms));
  auto took = std::chrono::steady_clock::now() - started;
  CHECK(stream.icmp.find("port unreachable") != std::string::npos);
  CHECK(stream.log.packets.size() <= 3);  // stopped at once, not after the 150 packets of 3 s
  CHECK(took < 500ms);
}

TEST_CASE("a wrong token is a set-up error") {
  test::TempDir dir;
  auto r = test::start_responder(dir, 1, {"--token", "right"});
  auto o = run_media({{"host", "127.0.0.1"}, {"port", r.udp_first}, {"duration_s", 1}}, r.control, "wrong");
  REQUIRE(o.error);
  CHECK(o.error->reason == ErrorReason::setup);
  // With the right token the stream is answered.
  auto ok = run_media({{"host", "127.0.0.1"}, {"port", r.udp_first}, {"duration_s", 1}}, r.control, "right");
  REQUIRE_MESSAGE(!ok.error, ok.summary);
  CHECK(ok.details["downstream"]["received"] == 50);
}

TEST_CASE("a responder that dies mid-stream: an interrupted finding, within the deadline") {
  test::TempDir dir;
  auto r = test::start_responder(dir, 1);
  std::thread killer([&] {
    std::this_thread::sleep_for(1s);  // the stream runs 3 s: stop the far end in its middle
    r.process->stop();
  });
  auto started = std::chrono::steady_clock::now();
  auto o = run_media({{"host", "127.0.0.1"}, {"port", r.udp_first}, {"duration_s", 3}}, r.control);
  killer.join();
  CHECK(std::chrono::steady_clock::now() - started < 10s);
  REQUIRE_MESSAGE(!o.error, o.summary);
  CHECK(has_code(o, "media_quality.interrupted"));
  CHECK(has_code(o, "media_quality.loss"));
  CHECK(o.details["interrupted_at"].get<int>() > 20);
  CHECK(o.details["interrupted_at"].get<int>() < 130);
}
