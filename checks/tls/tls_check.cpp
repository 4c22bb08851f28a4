#include "checks/tls/tls_check.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "checks/common/resolve_step.hpp"
#include "checks/tls/tls_metrics.hpp"
#include "probe/input_limits.hpp"
#include "probe/net/host_port.hpp"
#include "probe/net/resolver.hpp"

namespace asio = boost::asio;

namespace callready::checks {

namespace tls {

namespace {

CheckError local_connect_error(const tcp::endpoint& ep, const std::string& why) {
  return CheckError{ErrorReason::local, Operation::connect,
                    fmt::format("connect {}: {}", net::format_host_port(ep.address(), ep.port()), why)};
}

// Versions and suites (N + 1 handshakes per version, scan.cpp).
asio::awaitable<void> scan_versions(TlsResult& r, Measured<TlsResult>& m, tcp::endpoint ep,
                                    const HandshakeOptions& hopt, const TlsParams& p, CheckContext& ctx) {
  ScanOptions sopt;
  sopt.versions = p.versions;
  sopt.sni = hopt.sni;
  sopt.max_parallel = p.max_parallel;
  sopt.pace = Millis(p.pace_ms);
  ScanResult scan = co_await scan_suites(ep, sopt, ctx);
  r.scanned = true;
  r.versions = std::move(scan.versions);
  r.out_of_time = scan.out_of_time;
  r.connections_used += scan.connections;
  if (!scan.local_failure.empty()) {
    m.error = local_connect_error(ep, scan.local_failure);
    co_return;
  }
  for (const auto& [v, vr] : r.versions)
    if (!vr.untestable_reason.empty())
      r.untestable.push_back(fmt::format("{}: {}", version_key(v), vr.untestable_reason));
  if (p.policy)
    for (auto& s : unknown_suites(*p.policy)) r.untestable.push_back(std::move(s));
}

}  // namespace

TlsParams TlsParams::parse(ParamReader& r) {
  TlsParams p;
  p.host = r.string("host");
  p.port = r.port_or("port", 443);
  p.server_name = r.string_or("server_name", "");
  if (p.server_name.empty()) p.server_name = p.host;
  p.ca_file = r.string_or("ca_file", "");
  p.max_parallel = static_cast<int>(r.integer_or("max_parallel", 1, 64, 16));
  p.pace_ms = static_cast<int>(r.integer_or("pace_ms", 0, 10000, 0));
  p.policy = read_policy(r, "policy");
  p.expected_issuers = r.string_list_or("expected_issuers");
  p.client_cert = r.string_or("client_cert", "");
  p.client_key = r.string_or("client_key", "");
  if (!p.client_key.empty() && p.client_cert.empty()) r.error("client_key", "needs client_cert");
  p.sni = r.boolean_or("sni", true);
  auto versions = r.string_list_or("versions", {"tls1.0", "tls1.1", "tls1.2", "tls1.3"});
  for (std::size_t i = 0; i < versions.size(); ++i) {
    auto v = version_from_key(versions[i]);
    if (!v)
      r.error(fmt::format("versions[{}]", i), "expected tls1.0, tls1.1, tls1.2 or tls1.3");
    else if (std::find(p.versions.begin(), p.versions.end(), *v) == p.versions.end())
      p.versions.push_back(*v);
  }
  return p;
}

std::string TlsParams::target() const { return net::format_host_port(host, port); }

asio::awaitable<Measured<TlsResult>> measure_tls(TlsParams p, CheckContext& ctx) {
  Measured<TlsResult> m;
  TlsResult& r = m.result;
  r.host = p.host;
  r.port = p.port;
  r.server_name = p.server_name;
  r.sni_sent = p.sni;
  r.where = p.target();
  r.versions_asked = p.versions;
  // A CA file is read by libssl whole: refuse an endless or huge one first.
  if (!p.ca_file.empty()) {
    auto ca = read_file_capped(p.ca_file, kMaxCaFileBytes, "CA file");
    if (!ca.contents) {
      m.error = CheckError{ErrorReason::bad_params, Operation::none, "ca_file " + ca.error};
      co_return m;
    }
  }
  r.policy = p.policy;

  // Resolve, then use the first address that takes a TCP connection.
  r.target = co_await checks::resolve_target(ctx, p.host);
  if (!r.target.resolved()) co_return m;
  Connection conn;
  tcp::endpoint ep;
  for (const auto& a : r.target.addresses) {
    ep = tcp::endpoint(a, p.port);
    conn = co_await connect_to(ep, Clock::now() + ctx.budget(kConnectTimeout));
    if (conn.socket) break;
    if (conn.failure == Failure::local) {
      m.error = local_connect_error(ep, conn.message);
      co_return m;
    }
    r.connect_failure = conn.failure;
    r.connect_errors.push_back(fmt::format("{}: {}", net::format_host_port(ep.address(), ep.port()), conn.message));
    if (ctx.remaining() < Millis(200)) break;
  }
  if (!conn.socket) {
    r.address = r.target.addresses.front().to_string();
    co_return m;
  }
  r.connect_failure = Failure::none;
  r.address = ep.address().to_string();
  r.where = net::format_host_port(ep.address(), ep.port());
  r.connections_used = 1;

  HandshakeOptions hopt;
  boost::system::error_code not_ip;
  (void)asio::ip::make_address(p.server_name, not_ip);
  hopt.sni = p.sni && not_ip ? p.server_name : "";  // RFC 6066: SNI never carries an IP literal
  hopt.verify_name = p.server_name;
  hopt.ca_file = p.ca_file;
  hopt.client_cert = p.client_cert;
  hopt.client_key = p.client_key;
  Millis hs_budget = ctx.budget(kHandshakeTimeout);
  HandshakeResult hs = co_await full_handshake(std::move(conn.socket), hopt, Clock::now() + hs_budget);
  if (hs.setup_error) {
    m.error = hs.setup_error;
    co_return m;
  }
  r.handshake = HandshakeFacts{hs.failure, hs.message, hs.version, hs.cipher, hs.got_server_bytes, hs_budget};
  if (ended_before_tls(hs.failure)) {
    // A reset or close may be a device dropping libssl's (large) ClientHello:
    // the suite scan's small offers tell. Silence is not retried.
    if (hs.failure == Failure::reset || hs.failure == Failure::closed) co_await scan_versions(r, m, ep, hopt, p, ctx);
    co_return m;
  }

  if (!hs.presented.empty()) {
    add_served(r.certificates, hs, "any", p.server_name, p.ca_file);
    r.leaf = r.certificates.front().leaf;
    r.chain = r.certificates.front().chain;
    r.chain_verdict = r.certificates.front().verdict;
    if (!p.expected_issuers.empty()) r.expected_issuer_seen = chain_matches_expected(hs, p.expected_issuers);
  }
  r.cert_requested = hs.cert_requested;
  r.client_ca_names = hs.client_ca_names;
  if (!p.client_cert.empty()) r.client_cert_accepted = hs.cert_requested && hs.failure == Failure::none;

  // Every other certificate the server holds, asked for by key type.
  if (!hs.presented.empty()) {
    auto probes = served_probes(hopt, p.versions);
    auto seen = co_await run_served_probes(ep, probes, p.max_parallel, ctx, r.connections_used);
    for (std::size_t i = 0; i < probes.size(); ++i)
      add_served(r.certificates, seen[i], probes[i].offer, p.server_name, p.ca_file);
  }

  co_await scan_versions(r, m, ep, hopt, p, ctx);
  if (m.error) co_return m;

  // SNI: without it, does the server still answer? If not, confirm with SNI.
  if (!p.sni) {
    bool answered = hs.failure == Failure::none ||
                    std::any_of(r.versions.begin(), r.versions.end(), [](const auto& e) { return e.second.supported; });
    bool required = false;
    if (!answered && ctx.remaining() > Millis(500)) {
      Connection c2 = co_await connect_to(ep, Clock::now() + ctx.budget(kConnectTimeout));
      if (c2.socket) {
        ++r.connections_used;
        HandshakeOptions with_sni = hopt;
        with_sni.sni = p.server_name;
        auto hs2 =
            co_await full_handshake(std::move(c2.socket), with_sni, Clock::now() + ctx.budget(kHandshakeTimeout));
        required = hs2.failure == Failure::none || (hs2.cert_requested && hs2.failure == Failure::alert);
      }
    }
    r.sni_required = required;
  }
  co_return m;
}

}  // namespace tls

CheckKind tls_check_kind() {
  return make_check_kind<tls::TlsParams, tls::TlsResult>(
      "tls", Millis(30000),
      KindFunctions<tls::TlsParams, tls::TlsResult>{&tls::measure_tls, &tls::judge_tls, &tls::tls_view, &tls_metrics});
}

}  // namespace callready::checks
