// The `ntp` measurement: resolve, read the local clock's state, run the SNTP
// exchange. It decides nothing; the judge reads the NtpResult.
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/this_coro.hpp>

#include "checks/common/resolve_step.hpp"
#include "checks/ntp/ntp_result.hpp"

namespace asio = boost::asio;
using asio::ip::udp;

namespace callready::checks::ntp {

asio::awaitable<Measured<NtpResult>> measure(NtpParams p, CheckContext& ctx) {
  Measured<NtpResult> m;
  auto& r = m.result;
  r.server = p.host;
  r.port = p.port;
  r.local_clock = read_clock_state();

  auto lookup = co_await checks::resolve_target(ctx, p.host);
  if (!lookup.resolved()) {
    r.unresolved = std::move(lookup);
    co_return m;
  }
  auto address = lookup.addresses.front();
  r.address = address;
  Endpoint server(address, p.port);

  udp::socket sock(co_await asio::this_coro::executor);
  boost::system::error_code ec;
  sock.open(server.protocol(), ec);
  if (ec) {
    m.error = net::local_error(Operation::bind, "a UDP socket towards " + server.address().to_string(), ec);
    co_return m;
  }
  Schedule plan;
  plan.samples = p.samples;
  plan.budget = ctx.budget(plan.budget);
  WallClock wall = &system_now;  // named: GCC 12 miscompiles temporaries in co_await
  r.exchange = co_await sntp_exchange(sock, server, plan, wall);
  if (!r.answered() && r.exchange.failure == net::NetFailure::local) {
    m.error = CheckError{ErrorReason::local, r.exchange.failed, server.address().to_string() + ": " + r.exchange.error};
  }
  co_return m;
}

}  // namespace callready::checks::ntp
