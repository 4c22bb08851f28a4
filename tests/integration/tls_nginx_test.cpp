// The tls check's certificate verdicts against nginx, a TLS server nobody
// here wrote, serving certificates the test makes: a chain whose root the
// client does not know (as behind a TLS-inspecting proxy) against a chain
// that really lacks its intermediate, a server with an RSA and an ECDSA
// certificate of which one is expired, and the one-line summary of an expired
// certificate. sslscan is the oracle for the certificate it is shown.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <map>
#include <regex>

#include "tests/fixtures/tls/tls_harness.hpp"
#include "tests/support/skip.hpp"

using namespace callready;
using namespace callready::test;
using namespace callready::test::tls;
using nlohmann::json;

namespace {

// An nginx in a temp prefix on a free loopback port, killed by PID when the
// test ends. `certs` are (chain file, key file) pairs: nginx serves each one.
struct Nginx {
  TempDir dir;
  unsigned short port = 0;
  std::unique_ptr<ChildProcess> proc;
};

// nginx is in /usr/sbin, often outside a test's PATH.
std::string nginx_program() {
  if (have_program("nginx")) return "nginx";
  return have_program("/usr/sbin/nginx") ? "/usr/sbin/nginx" : "";
}

std::unique_ptr<Nginx> start_nginx(const std::vector<std::pair<std::string, std::string>>& certs,
                                   const std::string& protocols = "TLSv1.2 TLSv1.3") {
  auto n = std::make_unique<Nginx>();
  n->port = free_port();
  std::string d = n->dir.path();
  std::string conf = "worker_processes 1;\nerror_log " + d + "/error.log;\nevents { worker_connections 64; }\n";
  conf += "http {\n  access_log off;\n";
  for (const char* t : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"})
    conf += fmt::format("  {}_temp_path {}/{};\n", t, d, t);
  conf += fmt::format("  server {{\n    listen 127.0.0.1:{} ssl;\n    server_name localhost;\n", n->port);
  for (const auto& [chain, key] : certs)
    conf += fmt::format("    ssl_certificate {};\n    ssl_certificate_key {};\n", chain, key);
  conf += fmt::format("    ssl_protocols {};\n    ssl_ciphers ALL:@SECLEVEL=0;\n    return 200 \"ok\\n\";\n  }}\n}}\n",
                      protocols);
  n->dir.write("nginx.conf", conf);
  n->proc = std::make_unique<ChildProcess>(std::vector<std::string>{nginx_program(), "-p", d, "-c", d + "/nginx.conf",
                                                                    "-g", "daemon off; pid " + d + "/nginx.pid;"},
                                           d + "/stderr.log");
  bool up = wait_for_tcp("127.0.0.1", n->port, std::chrono::seconds(5));
  std::string why = up ? "" : n->proc->log() + read_file(d + "/error.log");
  REQUIRE_MESSAGE(up, why);
  return n;
}

// Extra leaves the fixture PKI lacks, signed by its intermediate: an ECDSA
// leaf for localhost, and an expired one (openssl ca sets past dates).
const std::string& ec_leaves() {
  static std::string made = [] {
    const auto& dir = pki();
    auto r = run({"sh", "-c",
                  "set -e; cd " + dir.path() +
                      "\n"
                      "for n in ecleaf ecexpired; do\n"
                      "  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $n.key 2>/dev/null\n"
                      "  openssl req -new -key $n.key -out $n.csr -subj '/O=Callready Test/CN=localhost'\n"
                      "done\n"
                      "openssl x509 -req -in ecleaf.csr -CA inter.pem -CAkey inter.key -CAcreateserial "
                      "-out ecleaf.pem -days 365 -extfile leaf.ext 2>/dev/null\n"
                      "openssl ca -batch -config ca.cnf -cert inter.pem -keyfile inter.key -in ecexpired.csr "
                      "-out ecexpired.pem -startdate 20200101000000Z -enddate 20210101000000Z -extfile leaf.ext "
                      "-notext 2>/dev/null\n"
                      "for n in leaf expired ecleaf ecexpired; do cat $n.pem inter.pem > $n.chain.pem; done\n"},
                 std::chrono::seconds(60));
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return dir.path();
  }();
  return made;
}

std::pair<std::string, std::string> served(const std::string& name, bool with_intermediate = true) {
  ec_leaves();
  return {pki().file(name + (with_intermediate ? ".chain.pem" : ".pem")), pki().file(name + ".key")};
}

json params_for(const Nginx& n, bool with_ca_file) {
  json p = {{"host", "127.0.0.1"},
            {"port", n.port},
            {"server_name", "localhost"},
            {"versions", json::array({"tls1.2", "tls1.3"})}};
  if (with_ca_file) p["ca_file"] = pki().file("root.pem");
  return p;
}

const Finding* finding(const CheckOutcome& o, const std::string& code) {
  for (const auto& f : o.findings)
    if (f.code == code) return &f;
  return nullptr;
}

// The subject and key sslscan reports for the certificate it is shown.
std::string sslscan_certificate(unsigned short port) {
  auto r = run(
      {"sslscan", "--no-colour", "--show-certificate", "--no-cipher-details", "--no-heartbleed", "--no-renegotiation",
       "--no-compression", "--no-fallback", "--no-groups", "127.0.0.1:" + std::to_string(port)},
      std::chrono::seconds(60));
  REQUIRE(r.exit_code == 0);
  return r.out;
}

}  // namespace

TEST_CASE("nginx sends leaf and intermediate, root unknown: tls.root_untrusted names the issuer, chain complete") {
  if (nginx_program().empty()) CALLREADY_SKIP("nginx not installed");
  auto n = start_nginx({served("leaf")});
  auto r = run_tls(params_for(*n, false));
  const json& c = r.outcome.details["certificate"];
  INFO(r.outcome.details.dump(1));
  INFO(finding_codes(r.outcome));
  REQUIRE(c.is_object());
  CHECK(c["chain"].size() == 2);
  CHECK(c["chain_complete"] == true);
  CHECK(c["trusted"] == false);
  CHECK_FALSE(finding(r.outcome, "tls.chain_incomplete"));
  CHECK_FALSE(finding(r.outcome, "tls.cert_untrusted"));
  const Finding* f = finding(r.outcome, "tls.root_untrusted");
  REQUIRE(f);
  CHECK(f->severity == Severity::critical);
  CHECK(f->message.find("Callready Test Root") != std::string::npos);
  CHECK(f->message.find("inspect") != std::string::npos);
  CHECK(f->remediation.find("full chain") == std::string::npos);
  CHECK(r.outcome.summary.find("valid") == std::string::npos);

  // With the root as ca_file the same server is fine: the verdict was about the root alone.
  auto trusted = run_tls(params_for(*n, true));
  INFO(trusted.outcome.details.dump(1));
  CHECK(trusted.outcome.details["certificate"]["trusted"] == true);
  CHECK_MESSAGE(trusted.outcome.findings.empty(), finding_codes(trusted.outcome));
}

TEST_CASE("nginx sends the leaf alone: tls.chain_incomplete whether or not the root is known") {
  if (nginx_program().empty()) CALLREADY_SKIP("nginx not installed");
  auto n = start_nginx({served("leaf", false)});
  for (bool with_ca : {true, false}) {
    INFO("ca_file " << with_ca);
    auto r = run_tls(params_for(*n, with_ca));
    const json& c = r.outcome.details["certificate"];
    INFO(r.outcome.details.dump(1));
    INFO(finding_codes(r.outcome));
    REQUIRE(c.is_object());
    CHECK(c["chain"].size() == 1);
    CHECK(c["chain_complete"] == false);
    CHECK(c["trusted"] == false);
    const Finding* f = finding(r.outcome, "tls.chain_incomplete");
    REQUIRE(f);
    CHECK(f->severity == Severity::critical);
    CHECK(f->message.find("Callready Test Intermediate") != std::string::npos);  // the one missing
    CHECK_FALSE(finding(r.outcome, "tls.root_untrusted"));
  }
}

TEST_CASE("nginx with an RSA and an ECDSA certificate, one expired: the expired one fails the check by name") {
  if (nginx_program().empty()) CALLREADY_SKIP("nginx not installed");
  struct Shape {
    std::string rsa, ec, expired_key;
  };
  for (const Shape& s : {Shape{"expired", "ecleaf", "RSA"}, Shape{"leaf", "ecexpired", "EC"}}) {
    INFO("RSA " << s.rsa << ", ECDSA " << s.ec);
    auto n = start_nginx({served(s.rsa), served(s.ec)});
    auto r = run_tls(params_for(*n, true));
    const json& d = r.outcome.details;
    INFO(d.dump(1));
    INFO(finding_codes(r.outcome));
    REQUIRE(d["certificates"].is_array());
    REQUIRE(d["certificates"].size() == 2);
    std::map<std::string, json> by_key;
    for (const auto& c : d["certificates"]) by_key[c["key_type"].get<std::string>()] = c;
    REQUIRE(by_key.count("RSA") == 1);
    REQUIRE(by_key.count("EC") == 1);
    CHECK(by_key[s.expired_key]["days_left"].get<int>() < 0);
    CHECK(by_key[s.expired_key == "RSA" ? "EC" : "RSA"]["days_left"].get<int>() > 300);
    for (const auto& [key, c] : by_key) {
      CHECK(c["trusted"] == true);
      CHECK(c["hostname_match"] == true);
      CHECK(c["chain_complete"] == true);
      CHECK(c["chain"].size() == 2);
    }
    CHECK(d["certificate"].is_object());  // the contract's key: the certificate of the main handshake
    const Finding* f = finding(r.outcome, "tls.cert_expired");
    REQUIRE(f);
    CHECK(f->severity == Severity::critical);
    CHECK(f->message.find(s.expired_key == "RSA" ? "RSA" : "ECDSA") != std::string::npos);
    CHECK(f->message.find("2021-01-01") != std::string::npos);
    CHECK(r.outcome.summary.find("expired") != std::string::npos);

    // sslscan shows the one certificate its own handshake got (it misses
    // the other): that one must be among those found here.
    if (have_program("sslscan")) {
      std::string shown = sslscan_certificate(n->port);
      std::string key = shown.find("ECC Curve Name") != std::string::npos     ? "EC"
                        : shown.find("RSA Key Strength") != std::string::npos ? "RSA"
                                                                              : "";
      CHECK_MESSAGE(by_key.count(key) == 1, shown);
    }
  }
}

TEST_CASE("nginx with an expired certificate: the summary says expired, never valid") {
  if (nginx_program().empty()) CALLREADY_SKIP("nginx not installed");
  auto n = start_nginx({served("expired")});
  auto r = run_tls(params_for(*n, true));
  INFO(r.outcome.details.dump(1));
  INFO(r.outcome.summary);
  REQUIRE(finding(r.outcome, "tls.cert_expired"));
  CHECK(r.outcome.summary.find("expired") != std::string::npos);
  CHECK(r.outcome.summary.find(" valid") == std::string::npos);
  CHECK(r.outcome.summary.find("days left") == std::string::npos);
  std::regex negative_days("-[0-9]+ days");
  CHECK_FALSE(std::regex_search(r.outcome.summary, negative_days));
}
