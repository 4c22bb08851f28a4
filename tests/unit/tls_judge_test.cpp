// The tls check's pure parts, no sockets: the judge (one case per finding
// code), the cipher policies as the profile data gives them, the details it
// writes and the view drawn from those details.
#include <doctest/doctest.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ip/address.hpp>
#include <functional>
#include <map>
#include <string>

#include "checks/tls/tls_check.hpp"
#include "probe/profile.hpp"
#include "probe/registry.hpp"

using namespace callready;
using namespace callready::checks::tls;
using nlohmann::json;

namespace {

std::vector<std::uint16_t> codes(std::initializer_list<const char*> names) {
  std::vector<std::uint16_t> out;
  for (const char* n : names) {
    const Suite* s = find_suite(std::string(n));
    REQUIRE_MESSAGE(s, n);
    out.push_back(s->code);
  }
  return out;
}

VersionResult supported(std::vector<std::uint16_t> accepted, std::optional<bool> order = std::nullopt) {
  VersionResult v;
  v.tested = v.supported = true;
  v.accepted = std::move(accepted);
  v.server_order = order;
  return v;
}

VersionResult refused() {
  VersionResult v;
  v.tested = true;
  v.probe_failure = "alert (protocol_version)";
  return v;
}

// A healthy server: TLS 1.2 + 1.3, a valid certificate, nothing to say.
TlsResult healthy() {
  TlsResult r;
  r.host = "xsp.example.test";
  r.port = 443;
  r.server_name = "xsp.example.test";
  r.where = "198.51.100.7:443";
  r.target.host = r.host;
  r.target.addresses = {boost::asio::ip::make_address("198.51.100.7")};
  r.address = "198.51.100.7";
  r.connections_used = 40;
  r.handshake = HandshakeFacts{Failure::none, "", "TLSv1.3", "TLS_AES_256_GCM_SHA384", true, Millis(6000)};
  CertInfo leaf;
  leaf.subject = "CN=xsp.example.test";
  leaf.issuer = "CN=Example CA";
  leaf.common_name = "xsp.example.test";
  leaf.san = {"xsp.example.test"};
  leaf.not_before = "2026-01-01T00:00:00Z";
  leaf.not_after = "2027-06-01T00:00:00Z";
  leaf.days_left = 180;
  leaf.key_type = "RSA";
  leaf.key_bits = 2048;
  leaf.signature_algorithm = "sha256WithRSAEncryption";
  CertInfo ca = leaf;
  ca.subject = "CN=Example CA";
  ca.issuer = "CN=Example Root";
  ca.common_name = "Example CA";
  r.leaf = leaf;
  r.chain = {leaf, ca};
  r.chain_verdict.hostname_match = r.chain_verdict.chain_complete = r.chain_verdict.trusted = true;
  r.chain_verdict.top_issuer = "CN=Example Root";
  r.scanned = true;
  r.versions_asked = {TlsVersion::tls1_0, TlsVersion::tls1_1, TlsVersion::tls1_2, TlsVersion::tls1_3};
  r.versions[TlsVersion::tls1_0] = refused();
  r.versions[TlsVersion::tls1_1] = refused();
  r.versions[TlsVersion::tls1_2] =
      supported(codes({"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}), true);
  r.versions[TlsVersion::tls1_3] = supported(codes({"TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"}), false);
  return r;
}

TlsParams params_for(const TlsResult& r) {
  TlsParams p;
  p.host = r.host;
  p.port = r.port;
  p.server_name = r.server_name;
  p.policy = r.policy;
  p.versions = r.versions_asked;
  return p;
}

Judgement judge(const TlsResult& r) { return judge_tls(r, params_for(r)); }

const Finding* find(const Judgement& j, const std::string& code) {
  for (const auto& f : j.findings)
    if (f.code == code) return &f;
  return nullptr;
}

std::string codes_of(const Judgement& j) {
  std::string s;
  for (const auto& f : j.findings) s += f.code + " ";
  return s;
}

// The one finding `code`, with its severity and operation.
const Finding& expect(const Judgement& j, const std::string& code, Severity sev, Operation op = Operation::none) {
  const Finding* f = find(j, code);
  REQUIRE_MESSAGE(f, codes_of(j));
  CHECK(f->severity == sev);
  CHECK(f->operation == op);
  CHECK_FALSE(f->message.empty());
  CHECK_FALSE(f->remediation.empty());
  return *f;
}

// A policy as a profile passes it: read from the data catalogue through the params.
Policy data_policy(const std::string& name) {
  json params = {{"host", "h"}, {"policy", data_catalog().at(name)}};
  ParamReader r(params);
  auto p = TlsParams::parse(r);
  r.finish();
  INFO(name);
  REQUIRE(r.ok());
  REQUIRE(p.policy);
  return *p.policy;
}

// Through the registry, as the profile loader validates a rule's params.
std::vector<ParamError> validate(const json& params) { return find_check_kind("tls")->validate(params); }

}  // namespace

TEST_CASE("a healthy server: no findings, a summary of versions, suites and certificate") {
  auto j = judge(healthy());
  CHECK_MESSAGE(j.findings.empty(), codes_of(j));
  CHECK(j.summary ==
        "198.51.100.7:443: TLS 1.2/1.3, 4 suites in server order; certificate xsp.example.test valid, "
        "180 days left");
}

TEST_CASE("tls.no_address: the resolve step's finding, operation resolve, nothing else") {
  TlsResult r;
  r.host = "nowhere.example.test";
  r.port = 443;
  r.where = "nowhere.example.test:443";
  r.target.host = r.host;
  r.target.failure = net::DnsFailure::nxdomain;
  auto j = judge(r);
  REQUIRE(j.findings.size() == 1);
  auto& f = expect(j, "tls.no_address", Severity::critical, Operation::resolve);
  CHECK(f.message.find("Cannot test TLS on nowhere.example.test:443") == 0);
  CHECK(j.summary == f.message);
  json d = r;
  CHECK_FALSE(d.contains("addresses"));
}

TEST_CASE("tls.connect_refused and tls.connect_failed name the connect step") {
  TlsResult r;
  r.where = "127.0.0.1:9";
  r.target.host = "127.0.0.1";
  r.target.addresses = {boost::asio::ip::make_address("127.0.0.1")};
  r.address = "127.0.0.1";
  r.connect_failure = Failure::refused;
  r.connect_errors = {"127.0.0.1:9: Connection refused"};
  auto j = judge(r);
  REQUIRE(j.findings.size() == 1);
  CHECK(expect(j, "tls.connect_refused", Severity::critical, Operation::connect).message.find("Connection refused") !=
        std::string::npos);
  r.connect_failure = Failure::timeout;
  j = judge(r);
  REQUIRE(j.findings.size() == 1);
  expect(j, "tls.connect_failed", Severity::critical, Operation::connect);
}

TEST_CASE("handshakes that end before TLS: timeout, reset, closed, plain HTTP, not TLS") {
  TlsResult r = healthy();
  r.leaf.reset();
  r.scanned = false;
  r.versions.clear();
  r.handshake = HandshakeFacts{Failure::timeout, "", "", "", false, Millis(5400)};
  auto j = judge(r);
  REQUIRE(j.findings.size() == 1);
  CHECK(expect(j, "tls.handshake_timeout", Severity::critical, Operation::handshake)
            .message.find("sent no TLS answer "
                          "within 5400 ms") != std::string::npos);
  r.handshake->got_server_bytes = true;
  CHECK(judge(r).findings[0].message.find("stopped answering") != std::string::npos);
  r.handshake->failure = Failure::reset;
  CHECK(expect(judge(r), "tls.handshake_reset", Severity::critical, Operation::handshake).message.find("reset") !=
        std::string::npos);
  r.handshake->failure = Failure::closed;
  CHECK(expect(judge(r), "tls.handshake_reset", Severity::critical, Operation::handshake).message.find("closed") !=
        std::string::npos);
  r.handshake->failure = Failure::plain_http;
  expect(judge(r), "tls.plain_http", Severity::critical, Operation::handshake);
  r.handshake->failure = Failure::not_tls;
  expect(judge(r), "tls.not_tls", Severity::critical, Operation::handshake);
}

TEST_CASE("certificate findings: expired, not yet valid, expiring, name, chain, self-signed, untrusted, weak") {
  TlsResult r = healthy();
  r.chain_verdict.expired = true;
  r.leaf->days_left = -3;
  expect(judge(r), "tls.cert_expired", Severity::critical);
  CHECK_FALSE(find(judge(r), "tls.cert_expiring"));

  r = healthy();
  r.chain_verdict.not_yet_valid = true;
  expect(judge(r), "tls.cert_not_yet_valid", Severity::critical);

  r = healthy();
  r.leaf->days_left = 10;
  expect(judge(r), "tls.cert_expiring", Severity::warning);

  r = healthy();
  r.chain_verdict.hostname_match = false;
  CHECK(expect(judge(r), "tls.hostname_mismatch", Severity::critical).message.find("xsp.example.test") !=
        std::string::npos);

  r = healthy();
  r.chain_verdict.chain_complete = false;
  expect(judge(r), "tls.chain_incomplete", Severity::warning);  // trusted all the same
  r.chain_verdict.trusted = false;
  r.chain_verdict.errors = {"depth 0: unable to get local issuer certificate"};
  expect(judge(r), "tls.chain_incomplete", Severity::critical);
  CHECK(expect(judge(r), "tls.cert_untrusted", Severity::critical).message.find("local issuer") != std::string::npos);

  r = healthy();
  r.leaf->self_signed = true;
  r.chain_verdict.trusted = false;
  expect(judge(r), "tls.cert_self_signed", Severity::critical);
  CHECK_FALSE(find(judge(r), "tls.cert_untrusted"));

  r = healthy();
  r.leaf->key_bits = 1024;
  expect(judge(r), "tls.weak_key", Severity::warning);

  r = healthy();
  r.leaf->signature_algorithm = "sha1WithRSAEncryption";
  expect(judge(r), "tls.weak_signature", Severity::warning);
}

TEST_CASE("tls.root_untrusted: a complete chain ending at an unknown root is not a missing intermediate") {
  TlsResult r = healthy();
  r.chain_verdict.trusted = false;
  r.chain_verdict.root_unknown = true;
  r.chain_verdict.top_issuer = "CN=Corp Inspection CA,O=Corp";
  r.chain_verdict.errors = {"depth 1: unable to get local issuer certificate"};
  auto j = judge(r);
  auto& f = expect(j, "tls.root_untrusted", Severity::critical);
  CHECK(f.message.find("CN=Corp Inspection CA,O=Corp") != std::string::npos);
  CHECK(f.message.find("TLS-inspecting proxy") != std::string::npos);
  CHECK(f.remediation.find("full chain") == std::string::npos);
  CHECK_FALSE(find(j, "tls.chain_incomplete"));
  CHECK_FALSE(find(j, "tls.cert_untrusted"));
  CHECK(j.summary.find("certificate xsp.example.test root not trusted") != std::string::npos);
  json d = r;
  CHECK(d["certificate"]["chain_complete"] == true);
  CHECK(d["certificate"]["trusted"] == false);

  // The leaf alone, its issuer unknown: the intermediate is missing, and named.
  r = healthy();
  r.chain = {r.chain.front()};
  r.chain_verdict.trusted = r.chain_verdict.chain_complete = false;
  r.chain_verdict.missing_issuer = "CN=Example CA";
  r.chain_verdict.errors = {"depth 0: unable to get local issuer certificate"};
  j = judge(r);
  CHECK(expect(j, "tls.chain_incomplete", Severity::critical).message.find("\"CN=Example CA\"") != std::string::npos);
  CHECK_FALSE(find(j, "tls.root_untrusted"));
}

TEST_CASE("the summary says what the findings say: expired, not yet valid, wrong name, untrusted, expiring") {
  struct Case {
    const char* what;
    std::function<void(TlsResult&)> make;
    const char* code;
    const char* says;
  };
  std::vector<Case> cases = {
      {"expired",
       [](TlsResult& r) {
         r.chain_verdict.expired = true;
         r.leaf->not_after = "2023-01-05T00:00:00Z";
         r.leaf->days_left = -1066;
       },
       "tls.cert_expired", "certificate xsp.example.test expired on 2023-01-05"},
      {"not yet valid",
       [](TlsResult& r) {
         r.chain_verdict.not_yet_valid = true;
         r.leaf->not_before = "2030-02-01T00:00:00Z";
         r.leaf->days_left = 1800;
       },
       "tls.cert_not_yet_valid", "certificate xsp.example.test not valid before 2030-02-01"},
      {"hostname mismatch", [](TlsResult& r) { r.chain_verdict.hostname_match = false; }, "tls.hostname_mismatch",
       "certificate xsp.example.test does not name xsp.example.test"},
      {"untrusted",
       [](TlsResult& r) {
         r.chain_verdict.trusted = false;
         r.chain_verdict.errors = {"depth 0: certificate signature failure"};
       },
       "tls.cert_untrusted", "certificate xsp.example.test not trusted"},
      {"expired and wrong name",
       [](TlsResult& r) {
         r.chain_verdict.expired = true;
         r.chain_verdict.hostname_match = false;
         r.leaf->not_after = "2023-01-05T00:00:00Z";
         r.leaf->days_left = -1066;
       },
       "tls.cert_expired", "certificate xsp.example.test expired on 2023-01-05, does not name xsp.example.test"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    TlsResult r = healthy();
    c.make(r);
    auto j = judge(r);
    INFO(j.summary);
    expect(j, c.code, Severity::critical);
    CHECK(j.summary.find(c.says) != std::string::npos);
    CHECK(j.summary.find("valid,") == std::string::npos);
    CHECK(j.summary.find("days left") == std::string::npos);
  }
  // Warnings leave the certificate valid, and the summary says why it is not clean.
  TlsResult r = healthy();
  r.leaf->days_left = 10;
  auto j = judge(r);
  expect(j, "tls.cert_expiring", Severity::warning);
  CHECK(j.summary.find("certificate xsp.example.test valid, 10 days left") != std::string::npos);
  r = healthy();
  r.leaf->key_bits = 1024;
  CHECK(judge(r).summary.find("valid, 180 days left (weak key)") != std::string::npos);
}

TEST_CASE("two certificates served: each is judged, findings and summary name the one at fault") {
  TlsResult r = healthy();
  ServedCertificate ecdsa{*r.leaf, r.chain, r.chain_verdict, {"any", "ECDSA, TLS 1.3"}};
  ecdsa.leaf.key_type = "EC";
  ecdsa.leaf.key_bits = 256;
  ecdsa.leaf.fingerprint_sha256 = "aa";
  ServedCertificate rsa{*r.leaf, r.chain, r.chain_verdict, {"RSA, TLS 1.2", "RSA, TLS 1.3"}};
  rsa.leaf.fingerprint_sha256 = "bb";
  rsa.leaf.not_after = "2023-01-05T00:00:00Z";
  rsa.leaf.days_left = -1066;
  rsa.verdict.expired = true;
  r.leaf = ecdsa.leaf;
  r.certificates = {ecdsa, rsa};
  auto j = judge(r);
  INFO(j.summary);
  auto& f = expect(j, "tls.cert_expired", Severity::critical);
  CHECK(f.message.find("The RSA certificate for xsp.example.test expired on 2023-01-05") == 0);
  CHECK(j.findings.size() == 1);
  CHECK(j.summary.find("certificates: ECDSA xsp.example.test valid, 180 days left; RSA xsp.example.test expired on "
                       "2023-01-05") != std::string::npos);

  json d = r;
  REQUIRE(d["certificates"].size() == 2);
  CHECK(d["certificates"][1]["key_type"] == "RSA");
  CHECK(d["certificates"][1]["days_left"] == -1066);
  CHECK(d["certificates"][1]["offers"] == json::array({"RSA, TLS 1.2", "RSA, TLS 1.3"}));
  CHECK(d["certificates"][0]["trusted"] == true);
  CHECK(d["certificate"]["key_type"] == "EC");  // the contract's key: the handshake's own

  auto v = tls_view(d);
  REQUIRE(v.blocks.size() == 4);
  const auto* served = std::get_if<view::Table>(&v.blocks[3]);
  REQUIRE(served);
  REQUIRE(served->rows.size() == 2);
  CHECK(served->rows[1][1].text == "RSA 2048");
  CHECK(served->rows[1][2].tone == view::Tone::bad);

  // Two of the same key type are told apart by fingerprint.
  ecdsa.leaf.key_type = "RSA";
  ecdsa.leaf.fingerprint_sha256 = "00112233445566778899";
  r.certificates = {ecdsa, rsa};
  CHECK(expect(judge(r), "tls.cert_expired", Severity::critical).message.find("(SHA-256 bb)") != std::string::npos);
}

TEST_CASE("tls.inspection_suspected when the chain ends at none of the expected issuers") {
  TlsResult r = healthy();
  auto p = params_for(r);
  p.expected_issuers = {"DigiCert Global Root G2"};
  r.expected_issuer_seen = false;
  auto j = judge_tls(r, p);
  auto& f = expect(j, "tls.inspection_suspected", Severity::critical);
  CHECK(f.message.find("CN=Example Root") != std::string::npos);
  CHECK(f.message.find("DigiCert Global Root G2") != std::string::npos);
  CHECK(j.summary.find("certificate xsp.example.test not from an expected issuer") != std::string::npos);
  r.expected_issuer_seen = true;
  CHECK_FALSE(find(judge_tls(r, p), "tls.inspection_suspected"));
}

TEST_CASE("mutual TLS: tls.client_cert_requested without a certificate, tls.client_cert_rejected with one") {
  TlsResult r = healthy();
  r.cert_requested = true;
  r.client_ca_names = {"/CN=Client CA"};
  CHECK(expect(judge(r), "tls.client_cert_requested", Severity::info).message.find("/CN=Client CA") !=
        std::string::npos);
  r.client_cert_accepted = true;
  auto j = judge(r);
  CHECK_MESSAGE(j.findings.empty(), codes_of(j));
  r.client_cert_accepted = false;
  r.handshake->failure = Failure::alert;
  r.handshake->message = "the server sent alert unknown_ca";
  j = judge(r);
  CHECK(expect(j, "tls.client_cert_rejected", Severity::critical, Operation::handshake).message.find("unknown_ca") !=
        std::string::npos);
  CHECK_FALSE(find(j, "tls.handshake_failed"));  // the rejection says it
}

TEST_CASE("tls.sni_required: refused without SNI, answered with it") {
  TlsResult r = healthy();
  r.sni_sent = false;
  r.handshake->failure = Failure::alert;
  r.handshake->message = "the server sent alert unrecognized_name";
  r.versions[TlsVersion::tls1_2] = refused();
  r.versions[TlsVersion::tls1_3] = refused();
  r.sni_required = true;
  auto j = judge(r);
  CHECK(expect(j, "tls.sni_required", Severity::critical, Operation::handshake).message.find("unrecognized_name") !=
        std::string::npos);
  CHECK_FALSE(find(j, "tls.handshake_failed"));
  r.sni_required = false;
  CHECK_FALSE(find(judge(r), "tls.sni_required"));
}

TEST_CASE("tls.versions_unknown and tls.handshake_failed (critical when nothing works, warning otherwise)") {
  TlsResult r = healthy();
  for (auto& [v, vr] : r.versions) vr = VersionResult{};
  expect(judge(r), "tls.versions_unknown", Severity::warning, Operation::handshake);

  r.handshake->failure = Failure::tls_error;
  r.handshake->message = "no shared cipher";
  CHECK(expect(judge(r), "tls.handshake_failed", Severity::critical, Operation::handshake)
            .message.find("no shared cipher") != std::string::npos);

  r = healthy();
  r.handshake->failure = Failure::tls_error;
  r.handshake->message = "unsupported protocol";
  expect(judge(r), "tls.handshake_failed", Severity::warning, Operation::handshake);
}

TEST_CASE("tls.legacy_version without a policy, and tls.enumeration_incomplete") {
  TlsResult r = healthy();
  r.versions[TlsVersion::tls1_0] = supported(codes({"TLS_RSA_WITH_AES_128_CBC_SHA"}));
  auto j = judge(r);
  CHECK(expect(j, "tls.legacy_version", Severity::info).message.find("TLS 1.0") != std::string::npos);

  r = healthy();
  r.versions[TlsVersion::tls1_2].inconclusive = {"TLS_RSA_WITH_AES_128_CBC_SHA"};
  CHECK(expect(judge(r), "tls.enumeration_incomplete", Severity::warning, Operation::handshake)
            .message.find("1 suite probe(s)") != std::string::npos);
  r = healthy();
  r.out_of_time = true;
  CHECK(expect(judge(r), "tls.enumeration_incomplete", Severity::warning, Operation::handshake)
            .message.find("ran out of time") != std::string::npos);
}

TEST_CASE("tls.large_hello_dropped: named with the size, in the details, the order left unknown") {
  TlsResult r = healthy();
  r.versions[TlsVersion::tls1_2].large_hello_intolerant = true;
  r.versions[TlsVersion::tls1_2].refused_hello_bytes = 611;
  auto j = judge(r);
  auto f = expect(j, "tls.large_hello_dropped", Severity::warning, Operation::handshake);
  CHECK(f.message.find("611-byte TLS 1.2") != std::string::npos);
  nlohmann::json d = r;
  CHECK(d["versions"]["tls1.2"]["large_hello_dropped_bytes"] == 611);
  CHECK(!d["versions"]["tls1.3"].contains("large_hello_dropped_bytes"));
  CHECK(std::none_of(judge(healthy()).findings.begin(), judge(healthy()).findings.end(),
                     [](const Finding& x) { return x.code == "tls.large_hello_dropped"; }));
}

TEST_CASE("the policies in the profile data parse, and the XSP rule reads as the document says") {
  Policy w = data_policy("webex_signaling_tls_policy");
  CHECK(w.name == "webex-signaling");
  CHECK(w.source.find("001_0143181e3fa0e64a.txt") == 0);
  CHECK(w.required_versions == std::vector<TlsVersion>{TlsVersion::tls1_2});
  CHECK(w.allowed_versions == std::vector<TlsVersion>{TlsVersion::tls1_2, TlsVersion::tls1_3});
  CHECK(w.allowed_suites.at(TlsVersion::tls1_2).front() == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
  CHECK(unknown_suites(w).empty());  // every suite it names is one this prober can offer

  Policy x = data_policy("xsp_cipher_policy");
  CHECK(x.name == "broadworks-xsp");
  REQUIRE(x.suite_rule);
  const SuiteRule& rule = *x.suite_rule;
  CHECK(meets_rule(rule, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"));
  CHECK(meets_rule(rule, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"));
  CHECK(meets_rule(rule, "TLS_DHE_PSK_WITH_AES_256_CBC_SHA384"));
  CHECK(meets_rule(rule, "TLS_AES_128_GCM_SHA256"));
  CHECK_FALSE(meets_rule(rule, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"));   // CBC with SHA-1
  CHECK_FALSE(meets_rule(rule, "TLS_RSA_WITH_AES_128_GCM_SHA256"));      // no (EC)DHE
  CHECK_FALSE(meets_rule(rule, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"));  // not AES
  CHECK_FALSE(meets_rule(rule, "TLS_ECDHE_RSA_WITH_AES_128_CCM"));       // neither GCM nor CBC
  CHECK_FALSE(meets_rule(rule, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"));
  CHECK(judge_suite(x, TlsVersion::tls1_2, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256") ==
        SuiteVerdict::listed_exception);
  CHECK(judge_suite(x, TlsVersion::tls1_2, "TLS_RSA_WITH_AES_128_CBC_SHA") == SuiteVerdict::forbidden);
}

TEST_CASE("policy params: the shape is validated, a bare name is no longer a policy") {
  auto errors = validate({{"host", "h"}, {"policy", "webex-signaling"}});
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].path == "policy");
  errors = validate({{"host", "h"},
                     {"policy",
                      {{"allowed_versions", {"tls1.2", "ssl3"}},
                       {"required_versions", {"tls1.3"}},
                       {"allowed_suites", {{"tls1.9", {"X"}}}},
                       {"suite_rule", {{"modes", {"GCM"}}}},
                       {"colour", "red"}}}});
  std::map<std::string, std::string> by_path;
  for (const auto& e : errors) by_path[e.path] = e.message;
  CHECK(by_path.count("policy.name"));
  CHECK(by_path.count("policy.allowed_versions[1]"));
  CHECK(by_path.count("policy.required_versions"));
  CHECK(by_path.count("policy.allowed_suites.tls1.9"));
  CHECK(by_path.count("policy.suite_rule.key_exchanges"));
  CHECK(by_path.count("policy.suite_rule.ciphers"));
  CHECK(by_path.count("policy.colour"));
  // Only a list of forbidden suites: everything else is allowed.
  json p = {{"host", "h"}, {"policy", {{"name", "no-3des"}, {"forbidden_suites", {"TLS_RSA_WITH_3DES_EDE_CBC_SHA"}}}}};
  CHECK(validate(p).empty());
  ParamReader r(p);
  auto tp = TlsParams::parse(r);
  REQUIRE(tp.policy);
  CHECK(judge_suite(*tp.policy, TlsVersion::tls1_0, "TLS_RSA_WITH_AES_128_CBC_SHA") == SuiteVerdict::allowed);
  CHECK(judge_suite(*tp.policy, TlsVersion::tls1_0, "TLS_RSA_WITH_3DES_EDE_CBC_SHA") == SuiteVerdict::forbidden);
}

TEST_CASE("policy findings: version missing, version forbidden, forbidden suites, order, no allowed suite") {
  TlsResult r = healthy();
  r.policy = data_policy("webex_signaling_tls_policy");
  r.versions[TlsVersion::tls1_2] = refused();
  auto j = judge(r);
  REQUIRE_MESSAGE(j.findings.size() == 1, codes_of(j));
  CHECK(expect(j, "tls.policy_version_missing", Severity::critical).message.find("policy webex-signaling") !=
        std::string::npos);

  r.versions[TlsVersion::tls1_0] = supported(codes({"TLS_RSA_WITH_AES_128_CBC_SHA"}));
  r.versions[TlsVersion::tls1_2] =
      supported(codes({"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                       "TLS_RSA_WITH_3DES_EDE_CBC_SHA"}),
                true);
  j = judge(r);
  expect(j, "tls.policy_version_forbidden", Severity::warning);
  auto& forbidden = expect(j, "tls.policy_forbidden_suites", Severity::warning);
  CHECK(forbidden.message.find("TLS_RSA_WITH_3DES_EDE_CBC_SHA") != std::string::npos);
  CHECK(forbidden.message.find("GCM") == std::string::npos);
  expect(j, "tls.policy_order_differs", Severity::info);  // the policy prefers AES-256-GCM first
  CHECK_FALSE(find(j, "tls.policy_version_missing"));
  CHECK_FALSE(find(j, "tls.legacy_version"));  // the policy judges versions instead

  r.versions[TlsVersion::tls1_2] = supported(codes({"TLS_RSA_WITH_AES_128_CBC_SHA"}));
  expect(judge(r), "tls.policy_no_allowed_suite", Severity::critical);
}

TEST_CASE("tls.policy_listed_exception: outside the rule, on the policy's list") {
  TlsResult r = healthy();
  r.policy = data_policy("xsp_cipher_policy");
  r.versions[TlsVersion::tls1_2] =
      supported(codes({"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"}));
  r.versions[TlsVersion::tls1_3] = supported(codes({"TLS_CHACHA20_POLY1305_SHA256"}));
  auto j = judge(r);
  CHECK(expect(j, "tls.policy_listed_exception", Severity::info).message.find("CHACHA20") != std::string::npos);
  CHECK_FALSE(find(j, "tls.policy_forbidden_suites"));
  CHECK_FALSE(find(j, "tls.policy_no_allowed_suite"));  // an exception is enough for 1.3
}

TEST_CASE("details: contract keys, per-version verdicts and the policy judged against") {
  TlsResult r = healthy();
  r.policy = data_policy("webex_signaling_tls_policy");
  r.versions[TlsVersion::tls1_0] = supported(codes({"TLS_RSA_WITH_AES_128_CBC_SHA"}));
  r.versions[TlsVersion::tls1_2].accepted.push_back(codes({"TLS_RSA_WITH_AES_128_GCM_SHA256"})[0]);
  json d = r;
  CHECK(d["host"] == "xsp.example.test");
  CHECK(d["port"] == 443);
  for (const char* v : {"tls1.0", "tls1.1", "tls1.2", "tls1.3"}) {
    INFO(v);
    REQUIRE(d["versions"].contains(v));
    CHECK(d["versions"][v]["supported"].is_boolean());
    CHECK(d["versions"][v]["ciphers"].is_array());
    CHECK(d["versions"][v]["version_allowed"].is_boolean());
    CHECK(d["versions"][v]["ciphers_forbidden"].is_array());
  }
  CHECK(d["versions"]["tls1.2"]["ciphers"][0] == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");  // server order kept
  CHECK(d["versions"]["tls1.2"]["version_allowed"] == true);
  CHECK(d["versions"]["tls1.2"]["ciphers_forbidden"] == json::array({"TLS_RSA_WITH_AES_128_GCM_SHA256"}));
  CHECK(d["versions"]["tls1.0"]["version_allowed"] == false);
  CHECK(d["versions"]["tls1.0"]["ciphers_forbidden"] == json::array({"TLS_RSA_WITH_AES_128_CBC_SHA"}));
  CHECK(d["policy"]["name"] == "webex-signaling");
  CHECK(d["policy"]["source"].get<std::string>().find("001_") == 0);
  for (const char* k : {"subject", "issuer", "san", "not_after", "hostname_match", "chain_complete", "trusted"})
    CHECK_MESSAGE(d["certificate"].contains(k), k);
  CHECK(d["certificate"]["chain"].size() == 2);
  CHECK(d["handshake"]["completed"] == true);
  CHECK(d["connections_used"] == 40);
  CHECK(d["addresses"] == json::array({"198.51.100.7"}));

  // Without a policy: no policy key, the RFC 8996 versions are the ones not allowed, nothing forbidden.
  r.policy.reset();
  d = r;
  CHECK_FALSE(d.contains("policy"));
  CHECK(d["versions"]["tls1.0"]["version_allowed"] == false);
  CHECK(d["versions"]["tls1.2"]["version_allowed"] == true);
  CHECK(d["versions"]["tls1.0"]["ciphers_forbidden"].empty());

  // Before any connection: the contract keys are still there.
  TlsResult early;
  early.host = "h";
  early.port = 443;
  d = early;
  CHECK(d["certificate"].is_null());
  CHECK(d["versions"]["tls1.2"]["supported"] == false);
  CHECK_FALSE(d.contains("handshake"));
}

TEST_CASE("view: the suite matrix, the certificate and its chain, drawn from details alone") {
  TlsResult r = healthy();
  r.policy = data_policy("webex_signaling_tls_policy");
  r.versions[TlsVersion::tls1_0] = supported(codes({"TLS_RSA_WITH_AES_128_CBC_SHA"}));
  r.versions[TlsVersion::tls1_2].accepted.push_back(codes({"TLS_RSA_WITH_AES_128_GCM_SHA256"})[0]);
  json d = r;
  d["policy"]["name"] = "yesterday's policy";  // the view shows what the details say, not today's data
  auto v = tls_view(d);
  REQUIRE(v.blocks.size() == 3);
  CHECK(v.shown_keys == std::vector<std::string>{"versions", "policy", "certificate", "certificates"});

  const auto* m = std::get_if<view::Matrix>(&v.blocks[0]);
  REQUIRE(m);
  CHECK(m->caption.find("yesterday's policy") != std::string::npos);
  REQUIRE(m->columns.size() == 4);
  CHECK(m->columns[0].label == "TLS 1.0");
  CHECK(m->columns[0].tone == view::Tone::bad);    // supported, not allowed
  CHECK(m->columns[1].tone == view::Tone::muted);  // not supported
  CHECK(m->columns[2].tone == view::Tone::plain);
  std::map<std::string, std::vector<view::Tone>> rows;
  for (const auto& row : m->rows) rows[row.label] = row.cells;
  using T = view::Tone;
  CHECK(rows["TLS_RSA_WITH_AES_128_CBC_SHA"] == std::vector<T>{T::bad, T::muted, T::muted, T::muted});
  CHECK(rows["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"] == std::vector<T>{T::muted, T::muted, T::good, T::muted});
  CHECK(rows["TLS_RSA_WITH_AES_128_GCM_SHA256"] == std::vector<T>{T::muted, T::muted, T::bad, T::muted});
  CHECK(rows["TLS_AES_256_GCM_SHA384"] == std::vector<T>{T::muted, T::muted, T::muted, T::good});

  const auto* cert = std::get_if<view::Table>(&v.blocks[1]);
  REQUIRE(cert);
  CHECK(cert->caption == "Certificate");
  bool trusted_good = false;
  for (const auto& row : cert->rows) {
    CHECK(row[0].text != "chain");
    if (row[0].text == "trusted") trusted_good = row[1].text == "yes" && row[1].tone == T::good;
  }
  CHECK(trusted_good);
  const auto* chain = std::get_if<view::Table>(&v.blocks[2]);
  REQUIRE(chain);
  REQUIRE(chain->rows.size() == 2);
  CHECK(chain->rows[1][1].text == "CN=Example CA");
  CHECK(chain->rows[0][4].text == "RSA 2048");

  // Without a policy the accepted suites are plain; the legacy column is still marked.
  r.policy.reset();
  auto plain = tls_view(json(r));
  m = std::get_if<view::Matrix>(&plain.blocks[0]);
  REQUIRE(m);
  CHECK(m->caption == "Cipher suites accepted per TLS version");
  CHECK(m->columns[0].tone == T::bad);
  for (const auto& row : m->rows)
    for (auto t : row.cells) CHECK((t == T::plain || t == T::muted));

  // Details from an early failure: nothing to draw but the (empty) matrix.
  TlsResult early;
  auto e = tls_view(json(early));
  CHECK(e.blocks.size() == 1);
  CHECK(tls_view(json::object()).blocks.empty());
}

TEST_CASE("socket errors are sorted by net::classify") {
  namespace e = boost::asio::error;
  CHECK(failure_of(e::connection_refused) == Failure::refused);
  CHECK(failure_of(e::timed_out) == Failure::timeout);
  CHECK(failure_of(e::connection_reset) == Failure::reset);
  CHECK(failure_of(e::eof) == Failure::closed);
  CHECK(failure_of(e::no_descriptors) == Failure::local);
  CHECK(ended_before_tls(Failure::reset));
  CHECK_FALSE(ended_before_tls(Failure::alert));
}
