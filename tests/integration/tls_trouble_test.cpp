// The tls check against servers that misbehave (silent, reset, garbage, plain
// HTTP), a server speaking only a suite this libssl lacks (3DES), and one that
// refuses handshakes without SNI. Each ends as a named finding before the
// check's deadline (not cancelled by it), naming the step that failed.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <thread>

#include "checks/tls/hello.hpp"
#include "tests/fixtures/tls/tls_harness.hpp"

using namespace callready;
using namespace callready::test;
using namespace callready::test::tls;
using nlohmann::json;

namespace {

// Reads one TLS record (a ClientHello) within `ms`; empty when none came.
checks::tls::Bytes read_record(int fd, int ms = 2000) {
  checks::tls::Bytes buf;
  std::size_t want = 5;
  while (buf.size() < want) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, ms) <= 0) return {};
    std::uint8_t tmp[4096];
    ssize_t n = recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return {};
    buf.insert(buf.end(), tmp, tmp + n);
    if (buf.size() >= 5) want = 5 + static_cast<std::size_t>(buf[3] << 8 | buf[4]);
  }
  return buf;
}

void send_all(int fd, const void* data, std::size_t n) { (void)!send(fd, data, n, MSG_NOSIGNAL); }

// A loopback listener whose accepted connections go to `handle` on one thread.
class FakeServer {
 public:
  explicit FakeServer(std::function<void(int)> handle) : handle_(std::move(handle)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(fd_, 256);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~FakeServer() {
    stop_ = true;
    thread_.join();
    for (int c : kept_) close(c);
    close(fd_);
  }
  unsigned short port = 0;
  std::vector<int> kept_;  // connections a handler chose to leave open

 private:
  void loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      handle_(c);
    }
  }
  std::function<void(int)> handle_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Accepts TLS_RSA_WITH_3DES_EDE_CBC_SHA (which this libssl cannot offer or
// serve) whenever it is offered; a handshake_failure alert otherwise.
void answer_3des_only(int c) {
  auto hello = read_record(c);
  auto offered = checks::tls::offered_suites(hello);
  bool des3 = std::find(offered.begin(), offered.end(), 0x000A) != offered.end();
  if (!des3 || hello.size() < 11) {
    const std::uint8_t alert[] = {21, 3, 3, 0, 2, 2, 40};
    send_all(c, alert, sizeof alert);
  } else {
    std::uint8_t v0 = hello[9], v1 = hello[10];  // echo the client's version (<= TLS 1.2)
    checks::tls::Bytes sh = {22, v0, v1, 0, 42, 2, 0, 0, 38, v0, v1};
    for (int i = 0; i < 32; ++i) sh.push_back(static_cast<std::uint8_t>(i));
    sh.insert(sh.end(), {0, 0x00, 0x0A, 0});
    send_all(c, sh.data(), sh.size());
  }
  close(c);
}

json params(unsigned short port) { return {{"host", "127.0.0.1"}, {"port", port}, {"server_name", "localhost"}}; }

// Ended on its own before the deadline, as the finding `code` of the handshake step.
void check_ended_as(const CheckRun& r, const std::string& code) {
  INFO(finding_codes(r.outcome));
  CHECK_FALSE(r.cancelled);
  CHECK(r.drained);
  CHECK_FALSE(r.outcome.error);
  bool found = false;
  for (const auto& f : r.outcome.findings)
    if (f.code == code) found = f.operation == Operation::handshake;
  CHECK_MESSAGE(found, code);
}

}  // namespace

TEST_CASE("a server that accepts TCP and says nothing: tls.handshake_timeout before the deadline") {
  FakeServer* self = nullptr;
  FakeServer server([&self](int c) { self->kept_.push_back(c); });
  self = &server;
  auto r = run_tls(params(server.port), std::chrono::milliseconds(3000));
  check_ended_as(r, "tls.handshake_timeout");
}

TEST_CASE("a server that resets mid-handshake: tls.handshake_reset") {
  FakeServer server([](int c) {
    read_record(c);
    linger l{1, 0};
    setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(c);
  });
  auto r = run_tls(params(server.port), std::chrono::milliseconds(3000));
  check_ended_as(r, "tls.handshake_reset");
}

TEST_CASE("a server that answers garbage: tls.not_tls") {
  FakeServer server([](int c) {
    read_record(c);
    const char junk[] = "\x00\xff\x13garbage that is not TLS\r\n";
    send_all(c, junk, sizeof junk - 1);
    close(c);
  });
  auto r = run_tls(params(server.port), std::chrono::milliseconds(3000));
  check_ended_as(r, "tls.not_tls");
}

TEST_CASE("a server speaking plain HTTP on the TLS port: tls.plain_http") {
  FakeServer server([](int c) {
    read_record(c);
    const char reply[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    send_all(c, reply, sizeof reply - 1);
    close(c);
  });
  auto r = run_tls(params(server.port), std::chrono::milliseconds(3000));
  check_ended_as(r, "tls.plain_http");
}

TEST_CASE("a suite this libssl lacks (3DES) is still detected as accepted, and the policy forbids it") {
  FakeServer server(answer_3des_only);
  auto p = params(server.port);
  p["policy"] = profile_policy("xsp_cipher_policy");
  auto r = run_tls(p, std::chrono::milliseconds(10000));
  const json& d = r.outcome.details;
  INFO(d.dump(1));
  for (const char* v : {"tls1.0", "tls1.1", "tls1.2"}) {
    CHECK(d["versions"][v]["supported"] == true);
    CHECK(d["versions"][v]["ciphers"] == json::array({"TLS_RSA_WITH_3DES_EDE_CBC_SHA"}));
  }
  CHECK(d["versions"]["tls1.3"]["supported"] == false);
  CHECK(has_finding(r.outcome, "tls.policy_forbidden_suites"));
  CHECK(has_finding(r.outcome, "tls.policy_no_allowed_suite"));
  CHECK(d["versions"]["tls1.2"]["ciphers_forbidden"] == json::array({"TLS_RSA_WITH_3DES_EDE_CBC_SHA"}));
  CHECK_FALSE(r.cancelled);
  CHECK_FALSE(r.outcome.error);
}

TEST_CASE("SNI: a server that refuses handshakes without SNI is reported when sni is false") {
  const auto& dir = pki();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  REQUIRE(SSL_CTX_use_certificate_chain_file(ctx, dir.file("leaf.pem").c_str()) == 1);
  REQUIRE(SSL_CTX_use_PrivateKey_file(ctx, dir.file("leaf.key").c_str(), SSL_FILETYPE_PEM) == 1);
  SSL_CTX_set_tlsext_servername_callback(
      ctx, +[](SSL* ssl, int* alert, void*) -> int {
        if (SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) return SSL_TLSEXT_ERR_OK;
        *alert = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
      });
  FakeServer server([ctx](int c) {
    timeval tv{1, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, c);
    if (SSL_accept(ssl) == 1) SSL_shutdown(ssl);
    SSL_free(ssl);
    close(c);
  });
  auto p = params(server.port);
  p["versions"] = json::array({"tls1.2", "tls1.3"});
  p["sni"] = false;
  auto r = run_tls(p, std::chrono::milliseconds(10000));
  INFO(r.outcome.details.dump(1));
  CHECK(r.outcome.details["sni_required"] == true);
  CHECK(has_finding(r.outcome, "tls.sni_required"));
  CHECK_FALSE(r.cancelled);
  CHECK_FALSE(r.outcome.error);

  p["sni"] = true;
  auto ok = run_tls(p, std::chrono::milliseconds(10000));
  INFO(ok.outcome.details.dump(1));
  CHECK_FALSE(has_finding(ok.outcome, "tls.sni_required"));
  CHECK(ok.outcome.details["versions"]["tls1.3"]["supported"] == true);
  CHECK(ok.outcome.details["handshake"]["completed"] == true);
  SSL_CTX_free(ctx);
}

TEST_CASE("the engine's terminal cancellation in the middle of enumeration ends the check at once") {
  FakeServer server(answer_3des_only);  // two probes per version (N + 1), each 200 ms apart: seconds of work
  auto p = params(server.port);
  p["pace_ms"] = 200;
  auto r = run_tls(p, std::chrono::milliseconds(20000), std::chrono::milliseconds(700));
  CHECK(r.cancelled);
  CHECK(r.drained);  // nothing left running after the cancellation
}
