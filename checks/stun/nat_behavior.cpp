#include "probe/clock.hpp"
#include "checks/stun/nat_behavior.hpp"

#include <fmt/format.h>

#include <boost/asio/this_coro.hpp>

#include "checks/stun/stun_client.hpp"
#include "probe/net/async.hpp"

namespace asio = boost::asio;
using asio::ip::udp;
using SteadyClock = callready::Clock;

namespace callready::checks::nat_behavior {

namespace {

namespace stun = wire::stun;
using stun_client::Exchange;
using stun_client::Millis;
using stun_client::RequestOptions;
using stun_client::Retransmission;

// An answer is expected: a few retransmissions against loss.
Retransmission expect_answer(SteadyClock::time_point deadline) {
  Retransmission p{Millis(500), 4, 4, Millis(5500)};
  p.budget = std::min(p.budget, std::chrono::duration_cast<Millis>(deadline - SteadyClock::now()));
  return p;
}
// Silence is a likely result (filtering): shorter, as turnutils_natdiscovery
// does, but never cut short by the deadline, or silence would mean nothing.
const Retransmission kSilenceLikely{Millis(500), 3, 4, Millis(3500)};
bool time_for_silence(SteadyClock::time_point deadline) {
  return deadline - SteadyClock::now() >= kSilenceLikely.budget;
}

std::optional<stun::Endpoint> mapped_of(const Exchange& e) {
  if (!e.answered || e.response.cls != stun::MessageClass::success) return std::nullopt;
  const auto* a = e.response.find(stun::attr::xor_mapped_address);
  return a ? stun::read_xor_address(*a, e.response.transaction_id) : std::nullopt;
}

// "unknown: ..." for an exchange that should have been answered with a mapping.
std::string why_unknown(const Exchange& e, const std::string& test, const stun::Endpoint& to) {
  if (!e.answered) return fmt::format("unknown: {} to {} got no answer ({})", test, stun::to_string(to), e.error);
  if (e.response.cls == stun::MessageClass::error) {
    const auto* a = e.response.find(stun::attr::error_code);
    auto code = a ? stun::read_error_code(*a) : std::nullopt;
    return fmt::format("unknown: {} to {} was answered with error {}", test, stun::to_string(to),
                       code ? std::to_string(code->code) + " " + code->reason : "(no code)");
  }
  return fmt::format("unknown: {} to {}: no XOR-MAPPED-ADDRESS in the answer", test, stun::to_string(to));
}

// A fresh UDP socket (so earlier tests opened no pinholes for it) that has
// done test I against the primary address.
struct Probe {
  explicit Probe(asio::any_io_executor ex) : sock(ex) {}
  udp::socket sock;
  std::optional<stun::Endpoint> mapped;  // test I's XOR-MAPPED-ADDRESS
  std::string unknown;                   // why test I could not be done
};

asio::awaitable<std::unique_ptr<Probe>> start_probe(const asio::ip::address& local, const stun::Endpoint& primary,
                                                    SteadyClock::time_point deadline) {
  auto ex = co_await asio::this_coro::executor;
  auto p = std::make_unique<Probe>(ex);
  boost::system::error_code ec;
  udp::endpoint ep(local, 0);
  p->sock.open(ep.protocol(), ec);
  if (!ec) p->sock.bind(ep, ec);
  if (ec) {
    p->unknown = "unknown: cannot open a UDP socket: " + ec.message();
    co_return p;
  }
  RequestOptions plain;
  auto plan = expect_answer(deadline);
  auto t1 = co_await stun_client::udp_exchange(p->sock, primary, plain, plan);
  p->mapped = mapped_of(t1);
  if (!p->mapped) p->unknown = why_unknown(t1, "test I", primary);
  co_return p;
}

asio::awaitable<void> mapping_tests(Result& r, const asio::ip::address& local, stun::Endpoint primary,
                                    stun::Endpoint other, SteadyClock::time_point deadline) {
  // Test I: the primary address.
  auto s = co_await start_probe(local, primary, deadline);
  if (!s->mapped) {
    r.mapping = s->unknown;
    co_return;
  }
  auto m1 = s->mapped;
  RequestOptions plain;
  // Test II: the alternate IP, the primary port.
  stun::Endpoint alt_ip(other.address(), primary.port());
  auto plan_t2 = expect_answer(deadline);
  auto t2 = co_await stun_client::udp_exchange(s->sock, alt_ip, plain, plan_t2);
  auto m2 = mapped_of(t2);
  if (!m2) {
    r.mapping = why_unknown(t2, "test II", alt_ip);
    co_return;
  }
  if (*m2 == *m1) {
    r.mapping = kEndpointIndependent;
    r.mapping_evidence =
        fmt::format("{} and {} both saw {}", stun::to_string(primary), stun::to_string(alt_ip), stun::to_string(*m1));
    co_return;
  }
  // Test III: the alternate IP and port.
  auto plan_t3 = expect_answer(deadline);
  auto t3 = co_await stun_client::udp_exchange(s->sock, other, plain, plan_t3);
  auto m3 = mapped_of(t3);
  if (!m3) {
    r.mapping = why_unknown(t3, "test III", other);
    co_return;
  }
  r.mapping = *m3 == *m2 ? kAddressDependent : kAddressAndPortDependent;
  r.mapping_evidence =
      fmt::format("{} saw {}, {} saw {}, {} saw {}", stun::to_string(primary), stun::to_string(*m1),
                  stun::to_string(alt_ip), stun::to_string(*m2), stun::to_string(other), stun::to_string(*m3));
}

// A CHANGE-REQUEST answer only counts if it really came from the changed
// address; a server that ignores the request would otherwise fake EIF.
std::string check_changed(const Exchange& e, const stun::Endpoint& primary, bool ip, bool port) {
  if (e.response.cls == stun::MessageClass::error) {
    const auto* a = e.response.find(stun::attr::error_code);
    auto code = a ? stun::read_error_code(*a) : std::nullopt;
    return fmt::format("unknown: the server refused CHANGE-REQUEST (error {})", code ? code->code : 0);
  }
  bool ip_changed = e.responder.address() != primary.address();
  bool port_changed = e.responder.port() != primary.port();
  if (ip_changed != ip || port_changed != port)
    return fmt::format("unknown: the server did not honour CHANGE-REQUEST (answered from {})",
                       stun::to_string(e.responder));
  return {};
}

// Tests II and III of §4.4 run at once, each on its own socket that has done
// test I: waiting out the likely silence once instead of twice.
asio::awaitable<void> filtering_tests(Result& r, const asio::ip::address& local, stun::Endpoint primary,
                                      SteadyClock::time_point deadline) {
  auto s2 = co_await start_probe(local, primary, deadline);
  std::unique_ptr<Probe> s3;
  if (s2->mapped) s3 = co_await start_probe(local, primary, deadline);
  for (const auto* s : {s2.get(), s3.get()})
    if (s && !s->mapped) {
      r.filtering = s->unknown;
      co_return;
    }
  if (!time_for_silence(deadline)) {
    r.filtering = "unknown: not enough time left to wait for filtered answers";
    co_return;
  }
  Retransmission silence = kSilenceLikely;
  RequestOptions both;  // test II: answer from the other IP and port
  both.change_ip = true;
  both.change_port = true;
  RequestOptions port_only;  // test III: answer from the same IP, other port
  port_only.change_port = true;
  std::vector<asio::awaitable<Exchange>> tests;
  tests.push_back(stun_client::udp_exchange(s2->sock, primary, both, silence));
  tests.push_back(stun_client::udp_exchange(s3->sock, primary, port_only, silence));
  auto done = co_await net::gather(std::move(tests));
  const auto& t2 = done[0];
  const auto& t3 = done[1];
  if (t2.answered) {
    auto bad = check_changed(t2, primary, true, true);
    r.filtering = bad.empty() ? kEndpointIndependent : bad;
    r.filtering_evidence = "an answer from " + stun::to_string(t2.responder) + " (other IP and port) arrived";
  } else if (t3.answered) {
    auto bad = check_changed(t3, primary, false, true);
    r.filtering = bad.empty() ? kAddressDependent : bad;
    r.filtering_evidence =
        "no answer from another IP; an answer from " + stun::to_string(t3.responder) + " (same IP, other port) arrived";
  } else {
    r.filtering = kAddressAndPortDependent;
    r.filtering_evidence =
        fmt::format("no answer from another IP ({} requests) nor from another port ({} requests)", t2.sent, t3.sent);
  }
}

}  // namespace

asio::awaitable<Result> discover(asio::ip::address local, stun::Endpoint primary, stun::Endpoint other,
                                 SteadyClock::time_point deadline) {
  Result r;
  co_await mapping_tests(r, local, primary, other, deadline);
  co_await filtering_tests(r, local, primary, deadline);
  co_return r;
}

}  // namespace callready::checks::nat_behavior
