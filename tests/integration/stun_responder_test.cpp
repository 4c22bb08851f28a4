// The responder's STUN service (checks::stun_service) on loopback: against our
// own `stun` check, against coturn's clients (turnutils_stunclient,
// turnutils_natdiscovery), and raw packets for RFC 5780 CHANGE-REQUEST,
// RESPONSE-PORT, 420 answers, TCP framing, rate limiting and no amplification.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "checks/stun/stun_client.hpp"
#include "tests/integration/stun_support.hpp"

using namespace callready;
using namespace callready::test;
using nlohmann::json;
namespace asio = boost::asio;

namespace {

stun::Message expect_reply(RawUdp& c, const stun::TransactionId& id, RawUdp::Datagram* raw = nullptr) {
  auto d = c.receive(std::chrono::seconds(2));
  REQUIRE(d);
  auto r = stun::parse(d->bytes);
  INFO(r.error);
  REQUIRE(r);
  CHECK(r.message->transaction_id == id);
  CHECK(r.message->fingerprint_verified);
  if (raw) *raw = *d;
  return *r.message;
}

stun::Endpoint address_attr(const stun::Message& m, std::uint16_t type) {
  const auto* a = m.find(type);
  REQUIRE(a);
  auto ep =
      type == stun::attr::xor_mapped_address ? stun::read_xor_address(*a, m.transaction_id) : stun::read_address(*a);
  REQUIRE(ep);
  return *ep;
}

std::string ep(const std::string& ip, unsigned port) { return ip + ":" + std::to_string(port); }

}  // namespace

TEST_CASE("our stun check against our STUN service with an alternate address") {
  auto port = free_udp_block(2);
  StunServiceThread service(stun_options(port));
  REQUIRE_MESSAGE(service.error.empty(), service.error);
  auto t = run_stun_check({{"host", "127.0.0.1"}, {"port", port}}, std::chrono::seconds(20));
  const auto& d = t.details;
  INFO(d.dump());
  CHECK(d["reachable"] == true);
  CHECK(d["software"] == "callready");
  CHECK(d["mapped_address"] == d["local_address"]);
  CHECK(d["nat"] == false);
  CHECK(d["alg_suspected"] == false);
  CHECK(d["other_address"] == ep("127.0.0.2", port + 1));
  CHECK(d["mapping_behavior"] == "endpoint-independent");
  CHECK(d["filtering_behavior"] == "endpoint-independent");

  auto tcp = run_stun_check({{"host", "127.0.0.1"}, {"port", port}, {"transport", "tcp"}}, std::chrono::seconds(5));
  CHECK(tcp.details["reachable"] == true);
  CHECK(tcp.details["mapped_address"] == tcp.details["local_address"]);
  // TCP on the alternate address and port answers too, as RFC 5780 lays the ports out.
  auto alt = run_stun_check({{"host", "127.0.0.2"}, {"port", port + 1}, {"transport", "tcp"}}, std::chrono::seconds(5));
  CHECK(alt.details["reachable"] == true);
}

TEST_CASE("without an alternate address: no OTHER-ADDRESS, CHANGE-REQUEST is answered with 420") {
  auto port = free_udp_block(1);
  StunServiceThread service(stun_options(port, ""));
  REQUIRE_MESSAGE(service.error.empty(), service.error);
  auto t = run_stun_check({{"host", "127.0.0.1"}, {"port", port}}, std::chrono::seconds(5));
  CHECK(t.details["reachable"] == true);
  CHECK(t.details["mapping_behavior"] == "unknown: server lacks RFC 5780");

  RawUdp c;
  auto id = stun::random_transaction_id();
  stun::Builder b(stun::kBinding, stun::MessageClass::request, id);
  c.send(b.add_change_request(true, true).bytes(), port);
  auto m = expect_reply(c, id);
  CHECK(m.cls == stun::MessageClass::error);
  CHECK(stun::read_error_code(*m.find(stun::attr::error_code))->code == 420);
  CHECK(stun::read_unknown_attributes(*m.find(stun::attr::unknown_attributes)) ==
        std::vector<std::uint16_t>{stun::attr::change_request});
}

TEST_CASE(
    "RFC 5780: CHANGE-REQUEST moves the answer to the other IP and/or port, RESPONSE-ORIGIN and OTHER-ADDRESS agree") {
  auto port = free_udp_block(2);
  StunServiceThread service(stun_options(port));
  REQUIRE_MESSAGE(service.error.empty(), service.error);
  RawUdp c;
  struct Case {
    bool ip, port;
    std::string from;
  };
  for (const auto& k : {Case{false, false, ep("127.0.0.1", port)}, Case{true, true, ep("127.0.0.2", port + 1)},
                        Case{false, true, ep("127.0.0.1", port + 1)}, Case{true, false, ep("127.0.0.2", port)}}) {
    CAPTURE(k.from);
    auto id = stun::random_transaction_id();
    stun::Builder b(stun::kBinding, stun::MessageClass::request, id);
    if (k.ip || k.port) b.add_change_request(k.ip, k.port);
    c.send(b.add_fingerprint().bytes(), port);
    RawUdp::Datagram raw;
    auto m = expect_reply(c, id, &raw);
    CHECK(m.cls == stun::MessageClass::success);
    CHECK(stun::to_string(raw.from) == k.from);
    CHECK(stun::to_string(address_attr(m, stun::attr::response_origin)) == k.from);
    CHECK(stun::to_string(address_attr(m, stun::attr::other_address)) == ep("127.0.0.2", port + 1));
    CHECK(address_attr(m, stun::attr::xor_mapped_address).port() == c.port());
    CHECK(address_attr(m, stun::attr::mapped_address) == address_attr(m, stun::attr::xor_mapped_address));
  }
  // A request arriving on the alternate address names the primary as the other one.
  auto id = stun::random_transaction_id();
  c.send(stun::Builder(stun::kBinding, stun::MessageClass::request, id).bytes(), port + 1, "127.0.0.2");
  auto m = expect_reply(c, id);
  CHECK(stun::to_string(address_attr(m, stun::attr::other_address)) == ep("127.0.0.1", port));
}

TEST_CASE("RESPONSE-PORT sends the answer to the same IP, other port") {
  auto port = free_udp_block(2);
  StunServiceThread service(stun_options(port));
  REQUIRE(service.error.empty());
  RawUdp sender, receiver;
  auto id = stun::random_transaction_id();
  stun::Builder b(stun::kBinding, stun::MessageClass::request, id);
  sender.send(b.add_response_port(receiver.port()).bytes(), port);
  auto m = expect_reply(receiver, id);
  CHECK(address_attr(m, stun::attr::xor_mapped_address).port() == sender.port());
  CHECK_FALSE(sender.receive(std::chrono::milliseconds(200)));
}

TEST_CASE("never an amplifier: nothing answers bytes that are not a Binding request") {
  auto port = free_udp_block(2);
  StunServiceThread service(stun_options(port));
  REQUIRE(service.error.empty());
  RawUdp c;
  auto id = stun::random_transaction_id();
  auto good = stun::Builder(stun::kBinding, stun::MessageClass::request, id).add_fingerprint().bytes();
  auto bad_fp = good;
  bad_fp.back() ^= 1;
  auto truncated = stun::Bytes(good.begin(), good.begin() + 12);
  auto response = stun::Builder(stun::kBinding, stun::MessageClass::success, id).bytes();
  auto indication = stun::Builder(stun::kBinding, stun::MessageClass::indication, id).bytes();
  auto wrong_cookie = good;
  wrong_cookie[5] ^= 0xff;
  for (const auto& junk : {bad_fp, truncated, response, indication, wrong_cookie, stun::Bytes(500, 0x41)})
    c.send(junk, port);
  CHECK_FALSE(c.receive(std::chrono::milliseconds(300)));
  c.send(good, port);  // and the service is still alive
  auto m = expect_reply(c, id);
  CHECK(m.cls == stun::MessageClass::success);
}

TEST_CASE("unknown comprehension-required attributes get 420 with UNKNOWN-ATTRIBUTES") {
  auto port = free_udp_block(2);
  StunServiceThread service(stun_options(port));
  REQUIRE(service.error.empty());
  RawUdp c;
  auto id = stun::random_transaction_id();
  stun::Builder b(stun::kBinding, stun::MessageClass::request, id);
  b.add(0x0024, stun::Bytes{0, 0, 0, 1}).add(0xC001, stun::Bytes{1});  // PRIORITY (ICE) and an optional one
  c.send(b.bytes(), port);
  auto m = expect_reply(c, id);
  CHECK(m.cls == stun::MessageClass::error);
  CHECK(stun::read_error_code(*m.find(stun::attr::error_code))->code == 420);
  CHECK(stun::read_unknown_attributes(*m.find(stun::attr::unknown_attributes)) == std::vector<std::uint16_t>{0x0024});
}

TEST_CASE("rate limit per source: a burst beyond max_pps is mostly dropped") {
  auto port = free_udp_block(2);
  auto opts = stun_options(port);
  opts.max_pps = 20;
  StunServiceThread service(opts);
  REQUIRE(service.error.empty());
  RawUdp c;
  auto id = stun::random_transaction_id();
  auto req = stun::Builder(stun::kBinding, stun::MessageClass::request, id).bytes();
  for (int i = 0; i < 200; ++i) c.send(req, port);
  int answers = 0;
  while (c.receive(std::chrono::milliseconds(300))) ++answers;
  CHECK(answers >= 20);
  CHECK(answers <= 30);  // the burst (20) plus what refills while 200 packets are sent
}

TEST_CASE("TCP: two requests back to back in one write get two framed answers") {
  auto port = free_udp_block(2);
  StunServiceThread service(stun_options(port));
  REQUIRE(service.error.empty());
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  auto id1 = stun::random_transaction_id(), id2 = stun::random_transaction_id();
  auto both = stun::Builder(stun::kBinding, stun::MessageClass::request, id1).add_fingerprint().bytes();
  auto second = stun::Builder(stun::kBinding, stun::MessageClass::request, id2).bytes();
  both.insert(both.end(), second.begin(), second.end());
  asio::write(s, asio::buffer(both));
  for (const auto& id : {id1, id2}) {
    stun::Bytes buf(stun::kHeaderSize);
    asio::read(s, asio::buffer(buf));
    auto frame = stun::frame_length(buf);
    REQUIRE(frame.error.empty());
    buf.resize(frame.total);
    asio::read(s, asio::buffer(buf.data() + stun::kHeaderSize, frame.total - stun::kHeaderSize));
    auto r = stun::parse(buf);
    REQUIRE(r);
    CHECK(r.message->transaction_id == id);
    CHECK(stun::read_xor_address(*r.message->find(stun::attr::xor_mapped_address), id)->port() ==
          s.local_endpoint().port());
  }
  // Garbage on the stream closes the connection instead of being answered.
  stun::Bytes junk(20, 0xff);
  asio::write(s, asio::buffer(junk));
  stun::Bytes one(1);
  boost::system::error_code ec;
  asio::read(s, asio::buffer(one), ec);
  CHECK(ec == asio::error::eof);
}

TEST_CASE("coturn's clients against our service: turnutils_stunclient and turnutils_natdiscovery") {
  if (!have_program("turnutils_natdiscovery")) CALLREADY_SKIP("coturn not installed (scripts/install-deps.sh)");
  auto port = free_udp_block(2);
  StunServiceThread service(stun_options(port));
  REQUIRE(service.error.empty());
  auto sc =
      run({"timeout", "5", "turnutils_stunclient", "-p", std::to_string(port), "127.0.0.1"}, std::chrono::seconds(10));
  INFO(sc.out << sc.err);
  CHECK(sc.out.find("Other addr: : " + ep("127.0.0.2", port + 1)) != std::string::npos);
  CHECK(sc.out.find("Response origin: : " + ep("127.0.0.2", port + 1)) != std::string::npos);
  auto nd = run({"timeout", "20", "turnutils_natdiscovery", "-m", "-f", "-p", std::to_string(port), "127.0.0.1"},
                std::chrono::seconds(30));
  INFO(nd.out << nd.err);
  CHECK(nd.out.find("No ALG: Mapped == XOR-Mapped") != std::string::npos);
  CHECK(nd.out.find("Endpoint Independent Mapping") != std::string::npos);
  CHECK(nd.out.find("Endpoint Independent Filtering") != std::string::npos);
}

TEST_CASE("the STUN service refuses what it cannot do, with the reason") {
  auto port = free_udp_block(2);
  respond::ResponderOptions taken = stun_options(port, "");
  StunServiceThread first(taken);
  REQUIRE(first.error.empty());
  StunServiceThread second(taken);
  CHECK(second.error.find("cannot bind UDP 127.0.0.1:" + std::to_string(port)) != std::string::npos);
  auto wildcard = stun_options(port + 1);
  wildcard.bind_address = "0.0.0.0";
  StunServiceThread third(wildcard);
  CHECK(third.error.find("specific --bind-address") != std::string::npos);
  StunServiceThread none(respond::ResponderOptions{});  // no STUN ports: nothing to do, no error
  CHECK(none.error.empty());
}

TEST_CASE("IPv6: the service on ::1 and the check against it, over UDP and TCP") {
  auto port = free_udp_block(1);
  auto opts = stun_options(port, "");
  opts.bind_address = "::1";
  StunServiceThread service(opts);
  REQUIRE_MESSAGE(service.error.empty(), service.error);
  for (const char* transport : {"udp", "tcp"}) {
    CAPTURE(transport);
    auto t = run_stun_check({{"host", "::1"}, {"port", port}, {"transport", transport}}, std::chrono::seconds(5));
    const auto& d = t.details;
    CHECK(d["reachable"] == true);
    CHECK(d["mapped_address"].get<std::string>().rfind("[::1]:", 0) == 0);
    CHECK(d["mapped_address"] == d["local_address"]);
    CHECK(d["nat"] == false);
  }
}

// The check knows it talks to `callready respond` (--responder names the
// host, or the param says so): what is wrong with the responder is a set-up
// error, never a firewall finding.
TEST_CASE("with --responder naming the host: a responder that is not running is a set-up error") {
  auto port = free_udp_block(1);
  ScanSettings settings;
  settings.responder = "127.0.0.1:" + std::to_string(free_port());  // no control port there
  auto t = try_stun_check({{"host", "127.0.0.1"}, {"port", port}}, std::chrono::seconds(5), settings);
  REQUIRE(t.error);
  CHECK(t.error->reason == ErrorReason::setup);
  CHECK(t.error->operation == Operation::control);
  CHECK(t.findings.empty());
  CHECK(t.details["reachable"] == false);
}

TEST_CASE("callready respond: an unserved STUN port is a set-up error, the served one is measured") {
  TempDir dir;
  auto port = free_udp_block(2);
  auto responder = start_responder(dir, 1, {"--stun-ports", std::to_string(port)});
  ScanSettings settings;
  settings.responder = "127.0.0.1:" + std::to_string(responder.control);
  auto unserved = try_stun_check({{"host", "127.0.0.1"}, {"port", port + 1}}, std::chrono::seconds(5), settings);
  REQUIRE(unserved.error);
  CHECK(unserved.error->reason == ErrorReason::setup);
  CHECK(unserved.error->operation == Operation::control);
  CHECK(unserved.error->message.find("does not serve stun on port " + std::to_string(port + 1)) != std::string::npos);
  for (const char* transport : {"udp", "tcp"}) {
    CAPTURE(transport);
    auto served = run_stun_check({{"host", "127.0.0.1"}, {"port", port}, {"transport", transport}},
                                 std::chrono::seconds(5), settings);
    CHECK(served.details["reachable"] == true);
    CHECK(served.details["software"] == "callready");
  }
}

TEST_CASE("responder false: a third-party server's silence stays a finding, whatever --responder says") {
  RawUdp silent;  // bound and never read: silence, not a closed port
  auto port = silent.port();
  ScanSettings settings;
  settings.responder = "127.0.0.1:" + std::to_string(free_port());
  auto t = run_stun_check({{"host", "127.0.0.1"}, {"port", port}, {"responder", false}},
                          std::chrono::milliseconds(1500), settings);
  CHECK(has_finding(t, "stun.no_response", Severity::critical));
}

TEST_CASE("with a token: only authenticated requests are answered, signed, never larger than the request") {
  auto port = free_udp_block(2);
  auto opts = stun_options(port);
  opts.token = "s3cret";
  StunServiceThread service(opts);
  REQUIRE(service.error.empty());
  RawUdp c;
  // Unauthenticated: a bare request, CHANGE-REQUEST, RESPONSE-PORT, a wrong key: silence.
  auto id = stun::random_transaction_id();
  auto bare = stun::Builder(stun::kBinding, stun::MessageClass::request, id).add_fingerprint().bytes();
  auto change = stun::Builder(stun::kBinding, stun::MessageClass::request, id).add_change_request(true, true).bytes();
  auto redirect =
      stun::Builder(stun::kBinding, stun::MessageClass::request, id).add_response_port(c.port() + 1).bytes();
  stun::RequestOptions wrong;
  wrong.password = "guess";
  for (const auto& request : {bare, change, redirect, stun::binding_request(id, wrong)}) c.send(request, port);
  CHECK_FALSE(c.receive(std::chrono::milliseconds(300)));

  stun::RequestOptions plain, both;
  plain.password = both.password = "s3cret";
  both.change_ip = both.change_port = true;
  for (const auto& options : {plain, both}) {
    auto request = stun::binding_request(id, options);
    CHECK(request.size() == stun::kAuthenticatedRequestBytes);
    c.send(request, port);
    RawUdp::Datagram raw;
    auto m = expect_reply(c, id, &raw);
    CHECK(m.cls == stun::MessageClass::success);
    CHECK(raw.bytes.size() <= request.size());
    CHECK(stun::verify_message_integrity(m, stun::short_term_key("s3cret")));
    CHECK(address_attr(m, stun::attr::xor_mapped_address).port() == c.port());
    if (options.change_ip) CHECK(raw.from.address().to_string() == "127.0.0.2");
  }
  // A short authenticated request would get a larger answer: lean, or nothing.
  stun::Builder small(stun::kBinding, stun::MessageClass::request, id);
  auto short_request = small.add_message_integrity(stun::short_term_key("s3cret")).add_fingerprint().bytes();
  c.send(short_request, port);
  if (auto d = c.receive(std::chrono::milliseconds(300))) CHECK(d->bytes.size() <= short_request.size());
}

TEST_CASE("with a token: our check authenticates, pads and runs RFC 5780 against callready respond") {
  TempDir dir;
  auto port = free_udp_block(2);
  auto responder = start_responder(
      dir, 1, {"--stun-ports", std::to_string(port), "--alt-address", "127.0.0.2", "--token", "s3cret"});
  ScanSettings settings;
  settings.responder = "127.0.0.1:" + std::to_string(responder.control);
  settings.token = "s3cret";
  for (const char* transport : {"udp", "tcp"}) {
    CAPTURE(transport);
    auto r = run_stun_check({{"host", "127.0.0.1"}, {"port", port}, {"transport", transport}}, std::chrono::seconds(10),
                            settings);
    CHECK(r.details["reachable"] == true);
    if (std::string(transport) == "udp") {
      CHECK(r.details["mapping_behavior"] == "endpoint-independent");
      CHECK(r.details["filtering_behavior"] == "endpoint-independent");
      CHECK(r.details["other_address_followed"] == "127.0.0.2:" + std::to_string(port + 1));
    }
  }
  CHECK(responder.process->stop() == 0);
  CHECK(responder.process->log().find("0 unauthenticated") != std::string::npos);
}
