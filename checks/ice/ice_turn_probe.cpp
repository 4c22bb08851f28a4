#include "checks/ice/ice_turn_probe.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>

#include "checks/stun/stun_codec.hpp"

namespace callready::checks::ice {

namespace asio = boost::asio;
using asio::ip::udp;
namespace st = stun;

const char* to_string(TurnOutcome o) {
  switch (o) {
    case TurnOutcome::not_tested:
      return "not_tested";
    case TurnOutcome::unreachable:
      return "unreachable";
    case TurnOutcome::unauthorized:
      return "unauthorized";
    case TurnOutcome::refused:
      return "refused";
    case TurnOutcome::allocated:
      return "allocated";
  }
  return "not_tested";
}

namespace {

constexpr std::uint16_t kAllocate = 0x003;
constexpr std::uint16_t kRefresh = 0x004;
constexpr std::uint16_t kLifetime = 0x000D;
constexpr std::uint16_t kRequestedTransport = 0x0019;

struct Credentials {
  std::string username, realm, nonce;
  st::Bytes key;
};

st::Bytes request(std::uint16_t method, const st::TransactionId& id, const Credentials* auth) {
  st::Builder b(method, st::MessageClass::request, id);
  if (method == kAllocate) {
    const std::uint8_t udp_transport[4] = {17, 0, 0, 0};
    b.add(kRequestedTransport, udp_transport);
  } else {
    const std::uint8_t zero[4] = {0, 0, 0, 0};
    b.add(kLifetime, zero);
  }
  if (auth) {
    b.add_string(st::attr::username, auth->username);
    b.add_string(st::attr::realm, auth->realm);
    b.add_string(st::attr::nonce, auth->nonce);
    b.add_message_integrity(auth->key);
  }
  return b.bytes();
}

// ICMP errors the kernel reports on the connected socket: the port is
// closed there, or a router or firewall rejects the packets.
bool is_icmp_refusal(const boost::system::error_code& ec) {
  return ec == asio::error::connection_refused || ec == asio::error::host_unreachable ||
         ec == asio::error::network_unreachable;
}

// Reads until a response with `id` arrives (the message) or an ICMP error
// refuses the request (nullopt, `refused` says which); never returns otherwise.
asio::awaitable<std::optional<st::Message>> read_response(udp::socket& sock, const st::TransactionId& id,
                                                          std::string& refused) {
  std::array<std::uint8_t, 1500> buf{};
  for (;;) {
    auto [ec, n] = co_await sock.async_receive(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted) throw boost::system::system_error(ec);
    if (is_icmp_refusal(ec)) {
      refused = ec.message();
      co_return std::nullopt;
    }
    if (ec) continue;
    auto parsed = st::parse(st::ByteView(buf.data(), n));
    if (parsed && parsed.message->transaction_id == id && parsed.message->cls != st::MessageClass::request)
      co_return std::move(*parsed.message);
  }
}

// Retransmits at 0, 250, 750, 1750 ms ...: nullopt when `cap` passes first
// or, at once, when an ICMP error refuses it (`refused` says which).
asio::awaitable<std::optional<st::Message>> transaction(udp::socket& sock, const st::Bytes& bytes,
                                                        const st::TransactionId& id, Millis cap, std::string& refused) {
  using namespace asio::experimental::awaitable_operators;
  auto until = Clock::now() + cap;
  Millis gap(250);
  while (Clock::now() < until) {
    boost::system::error_code ec;
    sock.send(asio::buffer(bytes), 0, ec);
    if (is_icmp_refusal(ec)) {  // an earlier probe's ICMP error, reported on this send
      refused = ec.message();
      co_return std::nullopt;
    }
    Timer timer(co_await asio::this_coro::executor);
    timer.expires_at(std::min(until, Clock::now() + gap));
    auto reading = read_response(sock, id, refused);
    auto r = co_await (std::move(reading) || timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (r.index() == 0) co_return std::get<0>(std::move(r));
    gap *= 2;
  }
  co_return std::nullopt;
}

std::optional<st::ErrorCode> error_of(const st::Message& m) {
  if (m.cls != st::MessageClass::error) return std::nullopt;
  const auto* a = m.find(st::attr::error_code);
  if (!a) return st::ErrorCode{500, "error answer without ERROR-CODE"};
  return st::read_error_code(*a);
}

std::string attribute_text(const st::Message& m, std::uint16_t type) {
  const auto* a = m.find(type);
  return a ? st::read_string(*a) : std::string();
}

}  // namespace

asio::awaitable<TurnProbe> probe_turn(udp::endpoint server, std::string username, std::string password, Millis cap) {
  TurnProbe out;
  udp::socket sock(co_await asio::this_coro::executor);
  boost::system::error_code ec;
  sock.open(server.protocol(), ec);
  // Connected, so the kernel hands ICMP errors for the server back to us:
  // a closed or rejected TURN port is told within a round trip.
  if (!ec) sock.connect(server, ec);
  if (ec) {
    out.reason = "socket: " + ec.message();
    co_return out;
  }
  auto started = Clock::now();
  auto id = st::random_transaction_id();
  auto bare = request(kAllocate, id, nullptr);
  std::string refused;
  auto first = co_await transaction(sock, bare, id, cap, refused);
  if (!first) {
    out.outcome = TurnOutcome::unreachable;
    if (!refused.empty()) out.reason = "refused at once with ICMP (" + refused + ")";
    co_return out;
  }
  out.rtt_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  Credentials auth{username, attribute_text(*first, st::attr::realm), attribute_text(*first, st::attr::nonce), {}};
  auth.key = st::long_term_key(auth.username, auth.realm, password);
  std::optional<st::Message> answer = first;
  // 401 asks for credentials; 438 (stale nonce) once more with the new nonce.
  for (int round = 0; round < 2; ++round) {
    auto error = error_of(*answer);
    if (!error || (error->code != 401 && error->code != 438)) break;
    if (round == 1 && error->code == 401) break;
    if (error->code == 438) auth.nonce = attribute_text(*answer, st::attr::nonce);
    id = st::random_transaction_id();
    auto signed_request = request(kAllocate, id, &auth);
    answer = co_await transaction(sock, signed_request, id, cap, refused);
    if (!answer) {
      out.outcome = TurnOutcome::unreachable;
      out.reason = refused.empty() ? "no answer to the authenticated Allocate"
                                   : "the authenticated Allocate was refused with ICMP (" + refused + ")";
      co_return out;
    }
  }
  auto error = error_of(*answer);
  if (!error) {
    out.outcome = TurnOutcome::allocated;
    id = st::random_transaction_id();
    auto release = request(kRefresh, id, &auth);
    sock.send(asio::buffer(release), 0, ec);  // best effort: the server's lifetime frees it anyway
    co_return out;
  }
  out.error_code = error->code;
  out.reason = error->reason;
  // 437: an allocation from this 5-tuple exists, so the credentials worked.
  out.outcome = error->code == 401   ? TurnOutcome::unauthorized
                : error->code == 437 ? TurnOutcome::allocated
                                     : TurnOutcome::refused;
  co_return out;
}

}  // namespace callready::checks::ice
