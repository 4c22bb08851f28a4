#include "checks/stun/nat_behavior.hpp"

#include <fmt/format.h>

#include <boost/asio/this_coro.hpp>
#include <cmath>
#include <memory>
#include <vector>

#include "probe/net/async.hpp"
#include "probe/net/path_rtt.hpp"

namespace asio = boost::asio;
using asio::ip::udp;

namespace callready::checks::stun {

const char* to_string(Behaviour b) {
  switch (b) {
    case Behaviour::endpoint_independent:
      return "endpoint-independent";
    case Behaviour::address_dependent:
      return "address-dependent";
    case Behaviour::address_and_port_dependent:
      return "address-and-port-dependent";
    case Behaviour::unknown:
      break;
  }
  return "unknown";
}

std::string BehaviourTest::text() const {
  if (behaviour == Behaviour::unknown) return "unknown: " + unknown_because;
  return to_string(behaviour);
}

namespace {

BehaviourTest unknown(std::string why) {
  BehaviourTest t;
  t.unknown_because = std::move(why);
  return t;
}

BehaviourTest known(Behaviour b, std::string evidence) {
  BehaviourTest t;
  t.behaviour = b;
  t.evidence = std::move(evidence);
  return t;
}

// An answer is expected, but not past the deadline.
Retransmission expecting(const DiscoveryPlan& plan, Clock::time_point deadline) {
  Retransmission p = plan.expect_answer;
  auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
  p.budget = std::max(Millis(0), std::min(p.budget, left));
  return p;
}

std::optional<Endpoint> mapped_of(const Exchange& e) {
  if (!e.answered || e.response.cls != MessageClass::success) return std::nullopt;
  const auto* a = e.response.find(attr::xor_mapped_address);
  return a ? read_xor_address(*a, e.response.transaction_id) : std::nullopt;
}

std::string error_text(const Message& m) {
  const auto* a = m.find(attr::error_code);
  auto code = a ? read_error_code(*a) : std::nullopt;
  return code ? std::to_string(code->code) + " " + code->reason : "(no code)";
}

// Why an exchange that should have been answered with a mapping was not.
std::string why_unknown(const Exchange& e, const std::string& test, const Endpoint& to) {
  if (!e.answered) return fmt::format("{} to {} got no answer ({})", test, to_string(to), e.error);
  if (e.response.cls == MessageClass::error)
    return fmt::format("{} to {} was answered with error {}", test, to_string(to), error_text(e.response));
  return fmt::format("{} to {}: no XOR-MAPPED-ADDRESS in the answer", test, to_string(to));
}

// A fresh UDP socket (so earlier tests opened no pinholes for it) that has
// done test I against the primary address.
struct Probe {
  explicit Probe(asio::any_io_executor ex) : sock(ex) {}
  udp::socket sock;
  std::optional<Endpoint> mapped;  // test I's XOR-MAPPED-ADDRESS
  std::string unknown;             // why test I could not be done
};

asio::awaitable<std::unique_ptr<Probe>> start_probe(const asio::ip::address& local, const Endpoint& primary,
                                                    Retransmission plan, std::string password) {
  auto p = std::make_unique<Probe>(co_await asio::this_coro::executor);
  boost::system::error_code ec;
  udp::endpoint ep(local, 0);
  p->sock.open(ep.protocol(), ec);
  if (!ec) p->sock.bind(ep, ec);
  if (ec) {
    p->unknown = "cannot open a UDP socket: " + ec.message();
    co_return p;
  }
  RequestOptions plain;
  plain.password = password;
  auto t1 = co_await udp_exchange(p->sock, primary, plain, plan);
  p->mapped = mapped_of(t1);
  if (!p->mapped) p->unknown = why_unknown(t1, "test I", primary);
  co_return p;
}

asio::awaitable<BehaviourTest> mapping_tests(asio::ip::address local, Endpoint primary, Endpoint other,
                                             Clock::time_point deadline, DiscoveryPlan plan) {
  // Test I: the primary address.
  // Plans are named first: GCC 12 miscompiles by-value temporaries inside co_await.
  auto plan1 = expecting(plan, deadline);
  auto s = co_await start_probe(local, primary, plan1, plan.password);
  if (!s->mapped) co_return unknown(s->unknown);
  auto m1 = *s->mapped;
  RequestOptions plain;
  plain.password = plan.password;
  // Test II: the alternate IP, the primary port.
  Endpoint alt_ip(other.address(), primary.port());
  auto plan2 = expecting(plan, deadline);
  auto t2 = co_await udp_exchange(s->sock, alt_ip, plain, plan2);
  auto m2 = mapped_of(t2);
  if (!m2) co_return unknown(why_unknown(t2, "test II", alt_ip));
  if (*m2 == m1)
    co_return known(Behaviour::endpoint_independent,
                    fmt::format("{} and {} both saw {}", to_string(primary), to_string(alt_ip), to_string(m1)));
  // Test III: the alternate IP and port.
  auto plan3 = expecting(plan, deadline);
  auto t3 = co_await udp_exchange(s->sock, other, plain, plan3);
  auto m3 = mapped_of(t3);
  if (!m3) co_return unknown(why_unknown(t3, "test III", other));
  co_return known(*m3 == *m2 ? Behaviour::address_dependent : Behaviour::address_and_port_dependent,
                  fmt::format("{} saw {}, {} saw {}, {} saw {}", to_string(primary), to_string(m1), to_string(alt_ip),
                              to_string(*m2), to_string(other), to_string(*m3)));
}

// A CHANGE-REQUEST answer only counts if it really came from the changed
// address; a server that ignores the request would otherwise fake EIF.
std::string check_changed(const Exchange& e, const Endpoint& primary, bool ip, bool port) {
  if (e.response.cls == MessageClass::error)
    return fmt::format("the server refused CHANGE-REQUEST (error {})", error_text(e.response));
  bool ip_changed = e.responder.address() != primary.address();
  bool port_changed = e.responder.port() != primary.port();
  if (ip_changed != ip || port_changed != port)
    return fmt::format("the server did not honour CHANGE-REQUEST (answered from {})", to_string(e.responder));
  return {};
}

// Tests II and III of §4.4 run at once, each on its own socket that has done
// test I: waiting out the likely silence once instead of twice.
asio::awaitable<BehaviourTest> filtering_tests(asio::ip::address local, Endpoint primary, Clock::time_point deadline,
                                               DiscoveryPlan plan) {
  auto plan1 = expecting(plan, deadline);
  std::vector<asio::awaitable<std::unique_ptr<Probe>>> starts;
  starts.push_back(start_probe(local, primary, plan1, plan.password));
  starts.push_back(start_probe(local, primary, plan1, plan.password));
  auto probes = co_await net::gather(std::move(starts));
  auto& s2 = probes[0];
  auto& s3 = probes[1];
  if (!s2->mapped) co_return unknown(s2->unknown);
  if (!s3->mapped) co_return unknown(s3->unknown);
  auto executor = co_await asio::this_coro::executor;
  auto silence = net::path_rtt(executor).silence_wait(primary.address(), plan.silence_likely.budget);
  if (!plan.silence_likely.silence_from_rtt) silence.wait = plan.silence_likely.budget;
  if (deadline - Clock::now() < silence.wait) co_return unknown("not enough time left to wait for filtered answers");
  RequestOptions both;  // test II: answer from the other IP and port
  both.change_ip = true;
  both.change_port = true;
  both.password = plan.password;
  RequestOptions port_only;  // test III: answer from the same IP, other port
  port_only.change_port = true;
  port_only.password = plan.password;
  std::vector<asio::awaitable<Exchange>> tests;
  tests.push_back(udp_exchange(s2->sock, primary, both, plan.silence_likely));
  tests.push_back(udp_exchange(s3->sock, primary, port_only, plan.silence_likely));
  auto done = co_await net::gather(std::move(tests));
  const auto& t2 = done[0];
  const auto& t3 = done[1];
  if (t2.answered) {
    auto bad = check_changed(t2, primary, true, true);
    if (!bad.empty()) co_return unknown(bad);
    co_return known(Behaviour::endpoint_independent,
                    "an answer from " + to_string(t2.responder) + " (other IP and port) arrived");
  }
  if (t3.answered) {
    auto bad = check_changed(t3, primary, false, true);
    if (!bad.empty()) co_return unknown(bad);
    auto r = known(Behaviour::address_dependent, "no answer from another IP; an answer from " +
                                                     to_string(t3.responder) + " (same IP, other port) arrived");
    r.silence = t2.silence;
    co_return r;
  }
  auto r = known(
      Behaviour::address_and_port_dependent,
      fmt::format("no answer from another IP ({} requests) nor from another port ({} requests)", t2.sent(), t3.sent()));
  r.silence = t2.silence;
  co_return r;
}

}  // namespace

asio::awaitable<NatBehaviour> discover(asio::ip::address local, Endpoint primary, Endpoint other,
                                       Clock::time_point deadline, DiscoveryPlan plan) {
  std::vector<asio::awaitable<BehaviourTest>> tests;
  tests.push_back(mapping_tests(local, primary, other, deadline, plan));
  tests.push_back(filtering_tests(local, primary, deadline, plan));
  auto done = co_await net::gather(std::move(tests));
  NatBehaviour r;
  r.mapping = std::move(done[0]);
  r.filtering = std::move(done[1]);
  co_return r;
}

}  // namespace callready::checks::stun
