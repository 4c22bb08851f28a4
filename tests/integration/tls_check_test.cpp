// The tls check against real `openssl s_server` peers with certificates the
// test makes, and `sslscan` as the oracle for every accepted suite set.
// Policies come from the profile data, as a profile passes them.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>

#include "checks/tls/suites.hpp"
#include "tests/fixtures/tls/tls_harness.hpp"
#include "tests/support/skip.hpp"

using namespace callready;
using namespace callready::test;
using namespace callready::test::tls;
using nlohmann::json;

namespace {

struct Server {
  std::unique_ptr<ChildProcess> proc;
  unsigned short port = 0;
};

// s_server on 127.0.0.1 with `cert` (+key) from the PKI and extra options.
Server start_server(const std::string& cert, std::vector<std::string> extra, bool with_chain = true) {
  const auto& dir = pki();
  Server s;
  s.port = free_port();
  std::vector<std::string> argv = {"openssl", "s_server",
                                   "-quiet",  "-www",
                                   "-accept", "127.0.0.1:" + std::to_string(s.port),
                                   "-cert",   dir.file(cert + ".pem"),
                                   "-key",    dir.file(cert + ".key")};
  if (with_chain) {
    argv.push_back("-cert_chain");
    argv.push_back(dir.file("inter.pem"));
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  s.proc = std::make_unique<ChildProcess>(argv, dir.file("s_server_" + std::to_string(s.port) + ".log"));
  REQUIRE_MESSAGE(wait_for_tcp("127.0.0.1", s.port, std::chrono::seconds(5)), s.proc->log());
  return s;
}

json params_for(const Server& s) {
  return {{"host", "127.0.0.1"}, {"port", s.port}, {"server_name", "localhost"}, {"ca_file", pki().file("root.pem")}};
}

// version key -> suite codes sslscan found accepted.
std::map<std::string, std::set<std::uint16_t>> sslscan_suites(unsigned short port) {
  auto r = run({"sslscan", "--no-colour", "--xml=-", "--no-heartbleed", "--no-renegotiation", "--no-compression",
                "--no-fallback", "--no-groups", "--no-check-certificate", "127.0.0.1:" + std::to_string(port)},
               std::chrono::seconds(60));
  REQUIRE(r.exit_code == 0);
  std::map<std::string, std::set<std::uint16_t>> out;
  std::regex line(R"re(<cipher status="(accepted|preferred)" sslversion="TLSv(1\.[0-3])".* id="0x([0-9A-Fa-f]{4})")re");
  for (std::sregex_iterator it(r.out.begin(), r.out.end(), line), end; it != end; ++it)
    out["tls" + (*it)[2].str()].insert(static_cast<std::uint16_t>(std::stoul((*it)[3].str(), nullptr, 16)));
  return out;
}

std::set<std::uint16_t> codes(const json& ciphers) {
  std::set<std::uint16_t> out;
  for (const auto& c : ciphers) {
    const auto* s = checks::tls::find_suite(c.get<std::string>());
    REQUIRE_MESSAGE(s, c.get<std::string>());
    out.insert(s->code);
  }
  return out;
}

void require_oracle_agrees(const Server& s, const json& versions) {
  if (!have_program("sslscan")) CALLREADY_SKIP("sslscan not installed: no oracle comparison");
  auto oracle = sslscan_suites(s.port);
  for (const char* v : {"tls1.0", "tls1.1", "tls1.2", "tls1.3"}) {
    INFO("version " << v);
    CHECK(codes(versions[v]["ciphers"]) == oracle[v]);
    CHECK(versions[v]["supported"].get<bool>() == !oracle[v].empty());
  }
}

std::vector<std::string> names(const json& a) { return a.get<std::vector<std::string>>(); }

// The connection budget for N accepted suites: N + versions x 3 + 5 (one
// handshake per suite plus a refusal and an order check per version), plus
// the check's own handshake and one per key type and version asking for
// every certificate served (3 key types x TLS 1.2 and 1.3).
int max_connections(const json& versions) {
  int n = 0;
  for (const auto& [k, v] : versions.items()) n += static_cast<int>(v["ciphers"].size());
  return n + 4 * 3 + 5 + 1 + 6;
}

}  // namespace

TEST_CASE("server order, TLS 1.2 + 1.3, full chain: suites, order, certificate, sslscan agrees") {
  auto s =
      start_server("leaf", {"-serverpref", "-cipher",
                            "ECDHE-RSA-AES128-SHA256:AES128-SHA:ECDHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256",
                            "-ciphersuites", "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"});
  auto r = run_tls(params_for(s));
  const json& d = r.outcome.details;
  INFO(d.dump(1));
  REQUIRE_FALSE(r.outcome.error);
  CHECK(d["address"] == "127.0.0.1");
  CHECK_FALSE(d["versions"]["tls1.0"]["supported"].get<bool>());
  CHECK_FALSE(d["versions"]["tls1.1"]["supported"].get<bool>());
  CHECK(names(d["versions"]["tls1.2"]["ciphers"]) ==
        std::vector<std::string>{"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA",
                                 "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"});
  CHECK(d["versions"]["tls1.2"]["server_order"] == true);
  CHECK(names(d["versions"]["tls1.3"]["ciphers"]) ==
        std::vector<std::string>{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"});
  CHECK(d["versions"]["tls1.3"]["server_order"] == true);
  const json& c = d["certificate"];
  CHECK(c["hostname_match"] == true);
  CHECK(c["chain_complete"] == true);
  CHECK(c["trusted"] == true);
  CHECK(c["subject"] == "CN=localhost,O=Callready Test");
  CHECK(c["san"] == json::array({"localhost", "127.0.0.1"}));
  CHECK(c["key_type"] == "RSA");
  CHECK(c["key_bits"] == 2048);
  CHECK(c["chain"].size() == 2);
  CHECK(c["days_left"].get<int>() >= 363);
  CHECK(d["client_cert_requested"] == false);
  CHECK(d["connections_used"].get<int>() > 10);
  CHECK(d["connections_used"].get<int>() <= max_connections(d["versions"]));
  CHECK_MESSAGE(r.outcome.findings.empty(), finding_codes(r.outcome));
  require_oracle_agrees(s, d["versions"]);
}

TEST_CASE("client order: the server takes the client's first suite, server_order false") {
  auto s = start_server(
      "leaf", {"-cipher", "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:AES256-SHA256", "-no_tls1_3"});
  auto r = run_tls(params_for(s));
  const json& d = r.outcome.details;
  INFO(d.dump(1));
  CHECK(d["versions"]["tls1.2"]["server_order"] == false);
  CHECK(d["versions"]["tls1.2"]["ciphers"].size() == 3);
  CHECK_FALSE(d["versions"]["tls1.3"]["supported"].get<bool>());
  require_oracle_agrees(s, d["versions"]);
}

TEST_CASE("TLS 1.3 only: the webex-signaling policy says TLS 1.2 is missing (critical)") {
  auto s = start_server("leaf", {"-tls1_3"});
  auto p = params_for(s);
  p["policy"] = profile_policy("webex_signaling_tls_policy");
  auto r = run_tls(p);
  const json& d = r.outcome.details;
  INFO(d.dump(1));
  CHECK_FALSE(d["versions"]["tls1.2"]["supported"].get<bool>());
  CHECK(d["versions"]["tls1.3"]["supported"] == true);
  CHECK(d["versions"]["tls1.3"]["ciphers"].size() == 3);
  bool critical = false;
  for (const auto& f : r.outcome.findings)
    critical = critical || (f.code == "tls.policy_version_missing" && f.severity == Severity::critical &&
                            f.message.find("policy webex-signaling") != std::string::npos);
  CHECK_MESSAGE(critical, finding_codes(r.outcome));
  CHECK(d["policy"]["source"].get<std::string>().find("001_0143181e3fa0e64a.txt") == 0);
  CHECK(d["versions"]["tls1.3"]["version_allowed"] == true);
  CHECK(d["versions"]["tls1.3"]["ciphers_forbidden"].empty());
  require_oracle_agrees(s, d["versions"]);
}

TEST_CASE("TLS 1.0-1.2 at security level 0, broad suite set: sslscan agrees, broadworks-xsp flags forbidden suites") {
  auto s = start_server("leaf", {"-no_tls1_3", "-cipher", "ALL:@SECLEVEL=0"});
  auto p = params_for(s);
  p["policy"] = profile_policy("xsp_cipher_policy");
  p["max_parallel"] = 8;
  auto r = run_tls(p);
  const json& d = r.outcome.details;
  INFO(d.dump(1));
  CHECK(d["versions"]["tls1.0"]["supported"] == true);
  CHECK(d["versions"]["tls1.1"]["supported"] == true);
  CHECK(d["versions"]["tls1.2"]["ciphers"].size() > 20);
  CHECK(d["connections_used"].get<int>() <= max_connections(d["versions"]));
  require_oracle_agrees(s, d["versions"]);
  bool forbidden = false;
  for (const auto& f : r.outcome.findings)
    if (f.code == "tls.policy_forbidden_suites" && f.message.rfind("TLS 1.2", 0) == 0)
      forbidden = f.message.find("TLS_RSA_WITH_AES_128_CBC_SHA,") != std::string::npos &&
                  f.message.find("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,") != std::string::npos &&
                  f.message.find("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256") == std::string::npos;
  CHECK_MESSAGE(forbidden, finding_codes(r.outcome));
  CHECK(has_finding(r.outcome, "tls.policy_listed_exception"));  // ChaCha20: listed, outside the rule
  const json& forbidden12 = d["versions"]["tls1.2"]["ciphers_forbidden"];
  CHECK(std::count(forbidden12.begin(), forbidden12.end(), "TLS_RSA_WITH_AES_128_CBC_SHA") == 1);
  CHECK(std::count(forbidden12.begin(), forbidden12.end(), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256") == 0);
}

TEST_CASE("expired certificate") {
  auto s = start_server("expired", {});
  auto r = run_tls(params_for(s));
  INFO(r.outcome.details.dump(1));
  CHECK(has_finding(r.outcome, "tls.cert_expired"));
  CHECK(r.outcome.details["certificate"]["not_after"] == "2021-01-01T00:00:00Z");
  CHECK(r.outcome.details["certificate"]["days_left"].get<int>() < 0);
  CHECK(r.outcome.details["certificate"]["hostname_match"] == true);
  require_oracle_agrees(s, r.outcome.details["versions"]);
}

TEST_CASE("a 1024-bit key and a certificate expiring in 10 days") {
  auto weak = start_server("weak", {"-cipher", "DEFAULT:@SECLEVEL=0"});
  auto r = run_tls(params_for(weak));
  INFO(r.outcome.details.dump(1));
  CHECK(r.outcome.details["certificate"]["key_bits"] == 1024);
  CHECK(has_finding(r.outcome, "tls.weak_key"));
  CHECK_FALSE(has_finding(r.outcome, "tls.cert_expiring"));
  require_oracle_agrees(weak, r.outcome.details["versions"]);
  auto soon = start_server("soon", {});
  auto r2 = run_tls(params_for(soon));
  INFO(r2.outcome.details.dump(1));
  CHECK(r2.outcome.details["certificate"]["days_left"].get<int>() <= 10);
  CHECK(has_finding(r2.outcome, "tls.cert_expiring"));
  CHECK_FALSE(has_finding(r2.outcome, "tls.weak_key"));
}

TEST_CASE("pacing that cannot finish in time: an incomplete enumeration, reported before the deadline") {
  auto s = start_server("leaf", {"-no_tls1_3"});
  auto p = params_for(s);
  p["pace_ms"] = 100;
  auto r = run_tls(p, std::chrono::milliseconds(2000));
  INFO(r.outcome.details.dump(1));
  CHECK_FALSE(r.cancelled);  // reported before the deadline had to cut it off
  CHECK(r.drained);
  CHECK(has_finding(r.outcome, "tls.enumeration_incomplete"));
  CHECK(r.outcome.details["versions"]["tls1.2"]["supported"] == true);
}

TEST_CASE("wrong name") {
  auto s = start_server("wrong", {});
  auto r = run_tls(params_for(s));
  INFO(r.outcome.details.dump(1));
  CHECK(r.outcome.details["certificate"]["hostname_match"] == false);
  CHECK(r.outcome.details["certificate"]["trusted"] == true);
  CHECK(has_finding(r.outcome, "tls.hostname_mismatch"));
  CHECK_FALSE(has_finding(r.outcome, "tls.cert_untrusted"));
  require_oracle_agrees(s, r.outcome.details["versions"]);
}

TEST_CASE("leaf-only chain: incomplete and so untrusted") {
  auto s = start_server("leaf", {}, false);
  auto r = run_tls(params_for(s));
  INFO(r.outcome.details.dump(1));
  CHECK(r.outcome.details["certificate"]["chain_complete"] == false);
  CHECK(r.outcome.details["certificate"]["trusted"] == false);
  CHECK(r.outcome.details["certificate"]["chain"].size() == 1);
  CHECK(has_finding(r.outcome, "tls.chain_incomplete"));
  CHECK(has_finding(r.outcome, "tls.cert_untrusted"));
}

TEST_CASE("without ca_file the private CA is untrusted although the chain is complete") {
  auto s = start_server("leaf", {});
  auto p = params_for(s);
  p.erase("ca_file");
  auto r = run_tls(p);
  INFO(r.outcome.details.dump(1));
  CHECK(r.outcome.details["certificate"]["trusted"] == false);
  CHECK(r.outcome.details["certificate"]["chain_complete"] == true);  // the server sent all it should
  CHECK(has_finding(r.outcome, "tls.root_untrusted"));
  CHECK_FALSE(has_finding(r.outcome, "tls.chain_incomplete"));
  CHECK_FALSE(has_finding(r.outcome, "tls.cert_untrusted"));
}

TEST_CASE("self-signed") {
  auto s = start_server("self", {}, false);
  auto r = run_tls(params_for(s));
  INFO(r.outcome.details.dump(1));
  CHECK(r.outcome.details["certificate"]["self_signed"] == true);
  CHECK(r.outcome.details["certificate"]["trusted"] == false);
  CHECK(has_finding(r.outcome, "tls.cert_self_signed"));
  require_oracle_agrees(s, r.outcome.details["versions"]);
}

TEST_CASE("expected issuers: a chain ending elsewhere is reported as likely TLS inspection") {
  auto s = start_server("leaf", {});
  auto p = params_for(s);
  p["expected_issuers"] = json::array({"DigiCert Global Root G2", "IdenTrust Commercial Root CA 1"});
  auto r = run_tls(p);
  REQUIRE(has_finding(r.outcome, "tls.inspection_suspected"));
  for (const auto& f : r.outcome.findings)
    if (f.code == "tls.inspection_suspected") CHECK(f.message.find("Callready Test Root") != std::string::npos);

  p["expected_issuers"] = json::array({"Callready Test Root"});
  CHECK_FALSE(has_finding(run_tls(p).outcome, "tls.inspection_suspected"));

  auto spki = run({"sh", "-c",
                   "openssl x509 -in " + pki().file("inter.pem") +
                       " -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64"});
  std::string pin = "sha256/" + spki.out.substr(0, spki.out.find('\n'));
  p["expected_issuers"] = json::array({pin});
  CHECK_FALSE(has_finding(run_tls(p).outcome, "tls.inspection_suspected"));
}

TEST_CASE("mutual TLS: the request, the CA names, and a client certificate accepted") {
  for (const char* tls13 : {"-no_tls1_3", "-tls1_3"}) {
    INFO(tls13);
    auto s =
        start_server("leaf", {"-Verify", "1", "-verify_return_error", "-CAfile", pki().file("clientca.pem"), tls13});
    auto p = params_for(s);
    p["versions"] = json::array({"tls1.2", "tls1.3"});
    auto r = run_tls(p);
    const json& d = r.outcome.details;
    INFO(d.dump(1));
    CHECK(d["client_cert_requested"] == true);
    REQUIRE(d["client_ca_names"].size() == 1);
    CHECK(d["client_ca_names"][0].get<std::string>().find("Callready Client CA") != std::string::npos);
    CHECK(has_finding(r.outcome, "tls.client_cert_requested"));
    CHECK(d["certificate"]["trusted"] == true);

    p["client_cert"] = pki().file("client.pem");
    p["client_key"] = pki().file("client.key");
    auto r2 = run_tls(p);
    INFO(r2.outcome.details.dump(1));
    CHECK(r2.outcome.details["client_cert_accepted"] == true);
    CHECK_FALSE(has_finding(r2.outcome, "tls.client_cert_rejected"));

    p["client_cert"] = pki().file("leaf.pem");  // issued by another CA
    p["client_key"] = pki().file("leaf.key");
    auto r3 = run_tls(p);
    INFO(r3.outcome.details.dump(1));
    CHECK(r3.outcome.details["client_cert_accepted"] == false);
    CHECK(has_finding(r3.outcome, "tls.client_cert_rejected"));
  }
}

TEST_CASE("pacing and a single connection at a time still find the same suites") {
  auto s = start_server("leaf", {"-cipher", "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA", "-no_tls1_3"});
  auto p = params_for(s);
  p["versions"] = json::array({"tls1.2"});
  p["max_parallel"] = 1;
  p["pace_ms"] = 5;
  auto r = run_tls(p);
  const json& d = r.outcome.details;
  INFO(d.dump(1));
  CHECK(d["versions"]["tls1.2"]["ciphers"].size() == 2);
  CHECK(d["versions"]["tls1.3"]["tested"] == false);
}

TEST_CASE("a closed port and a bad ca_file") {
  auto port = free_port();
  json p = {{"host", "127.0.0.1"}, {"port", port}};
  auto r = run_tls(p);
  REQUIRE(has_finding(r.outcome, "tls.connect_refused"));
  CHECK(r.outcome.findings[0].operation == Operation::connect);
  CHECK_FALSE(r.outcome.error);
  auto s = start_server("leaf", {});
  p = params_for(s);
  p["ca_file"] = "/nonexistent/ca.pem";
  auto r2 = run_tls(p);
  REQUIRE(r2.outcome.error);
  CHECK(r2.outcome.error->reason == ErrorReason::bad_params);
  CHECK(r2.outcome.error->message.find("ca_file") != std::string::npos);
}

TEST_CASE("a CA file that never ends (/dev/zero) is refused at its size cap, before any connection") {
  json p = {{"host", "127.0.0.1"}, {"port", 9}, {"ca_file", "/dev/zero"}};
  auto r = run_tls(p);
  REQUIRE(r.outcome.error);
  CHECK(r.outcome.error->reason == ErrorReason::bad_params);
  CHECK(r.outcome.error->message.find("ca_file") != std::string::npos);
  CHECK(r.outcome.error->message.find("KiB") != std::string::npos);
  CHECK_FALSE(r.outcome.details.contains("handshake"));
}
