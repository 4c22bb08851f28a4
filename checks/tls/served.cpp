#include "checks/tls/served.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace asio = boost::asio;

namespace callready::checks::tls {

namespace {

struct ProbeRun {
  const std::vector<ServedProbe>& probes;
  std::vector<HandshakeResult>& results;
  tcp::endpoint ep;
  CheckContext& ctx;
  std::size_t next = 0;
  int connections = 0;
};

asio::awaitable<void> served_worker(ProbeRun& run) {
  while (run.next < run.probes.size()) {
    std::size_t i = run.next++;
    if (run.ctx.remaining() < Millis(500)) continue;  // leave the rest of the time to the scan
    auto connect_deadline = Clock::now() + run.ctx.budget(kConnectTimeout);
    Connection c = co_await connect_to(run.ep, connect_deadline);
    if (!c.socket) continue;
    ++run.connections;
    HandshakeOptions opt = run.probes[i].options;
    auto deadline = Clock::now() + run.ctx.budget(kHandshakeTimeout);
    run.results[i] = co_await full_handshake(std::move(c.socket), std::move(opt), deadline);
  }
}

}  // namespace

void to_json(nlohmann::json& j, const ServedCertificate& c) {
  j = c.leaf;
  j["hostname_match"] = c.verdict.hostname_match;
  j["chain_complete"] = c.verdict.chain_complete;
  j["trusted"] = c.verdict.trusted;
  j["verify_errors"] = c.verdict.errors;
  j["chain"] = c.chain;
  j["offers"] = c.offers;
}

const std::vector<KeyFamily>& key_families() {
  static const std::vector<KeyFamily> families = {
      {"RSA", "aRSA:@SECLEVEL=0",
       "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:rsa_pss_pss_sha256:rsa_pss_pss_sha384:"
       "rsa_pss_pss_sha512:RSA+SHA256:RSA+SHA384:RSA+SHA512:RSA+SHA224:RSA+SHA1"},
      {"ECDSA", "aECDSA:@SECLEVEL=0", "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:ECDSA+SHA224:ECDSA+SHA1"},
      {"EdDSA", "aECDSA:@SECLEVEL=0", "ed25519:ed448"},
  };
  return families;
}

std::string key_family_of(const CertInfo& leaf) {
  if (leaf.key_type == "EC") return "ECDSA";
  if (leaf.key_type == "ED25519") return "Ed25519";
  if (leaf.key_type == "ED448") return "Ed448";
  return leaf.key_type;
}

void add_served(std::vector<ServedCertificate>& served, const HandshakeResult& hs, const std::string& offer,
                const std::string& server_name, const std::string& ca_file) {
  if (hs.presented.empty()) return;
  CertInfo leaf = describe(hs.presented.front().get());
  auto same = std::find_if(served.begin(), served.end(), [&](const ServedCertificate& s) {
    return s.leaf.fingerprint_sha256 == leaf.fingerprint_sha256;
  });
  if (same != served.end()) {
    same->offers.push_back(offer);
    return;
  }
  ServedCertificate s;
  s.leaf = std::move(leaf);
  for (const auto& x : hs.presented) s.chain.push_back(describe(x.get()));
  s.verdict = judge_chain(hs, server_name, ca_file);
  s.offers.push_back(offer);
  served.push_back(std::move(s));
}

std::vector<ServedProbe> served_probes(const HandshakeOptions& base, const std::vector<TlsVersion>& versions) {
  std::vector<TlsVersion> with_sigalgs;
  for (auto v : versions)
    if (v == TlsVersion::tls1_2 || v == TlsVersion::tls1_3) with_sigalgs.push_back(v);
  bool by_suite_only = with_sigalgs.empty();
  if (by_suite_only && !versions.empty()) with_sigalgs.push_back(*std::max_element(versions.begin(), versions.end()));
  std::vector<ServedProbe> out;
  for (auto v : with_sigalgs)
    for (const auto& f : key_families()) {
      if (by_suite_only && std::string(f.name) == "EdDSA") continue;  // no EdDSA suites before TLS 1.2
      ServedProbe p{fmt::format("{}, {}", f.name, version_label(v)), base};
      p.options.cipher_list = f.cipher_list;
      p.options.sigalgs = f.sigalgs;
      p.options.only_version = static_cast<int>(v);
      out.push_back(std::move(p));
    }
  return out;
}

asio::awaitable<std::vector<HandshakeResult>> run_served_probes(tcp::endpoint ep,
                                                                const std::vector<ServedProbe>& probes, int parallel,
                                                                CheckContext& ctx, int& connections) {
  std::vector<HandshakeResult> results(probes.size());
  ProbeRun run{probes, results, ep, ctx};
  auto ex = co_await asio::this_coro::executor;
  std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(std::max(1, parallel)), probes.size());
  using Op = decltype(asio::co_spawn(ex, served_worker(run), asio::deferred));
  std::vector<Op> ops;
  for (std::size_t i = 0; i < n; ++i) ops.push_back(asio::co_spawn(ex, served_worker(run), asio::deferred));
  if (!ops.empty()) {
    auto [order, errors] = co_await asio::experimental::make_parallel_group(std::move(ops))
                               .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
  }
  connections += run.connections;
  co_return results;
}

}  // namespace callready::checks::tls
