// The tls check's wire pieces: the suite catalogue, ClientHello rewriting (fed
// to a real libssl server through memory BIOs), ServerHello/alert parsing.
// Policies and verdicts: tls_judge_test.
#include <doctest/doctest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>

#include "checks/tls/hello.hpp"
#include "checks/tls/suites.hpp"

using namespace callready;
using namespace callready::checks::tls;

namespace {

// A libssl server in memory: feed it a ClientHello, read its first flight.
struct MemoryServer {
  SSL_CTX* ctx = nullptr;
  explicit MemoryServer(const char* ciphers, bool server_pref = false) {
    ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_security_level(ctx, 0);
    EVP_PKEY* key = EVP_RSA_gen(2048);
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("memory"), -1, -1, 0);
    X509_set_issuer_name(cert, X509_get_subject_name(cert));
    X509_sign(cert, key, EVP_sha256());
    SSL_CTX_use_certificate(ctx, cert);
    SSL_CTX_use_PrivateKey(ctx, key);
    X509_free(cert);
    EVP_PKEY_free(key);
    SSL_CTX_set_cipher_list(ctx, ciphers);
    if (server_pref) SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
  }
  ~MemoryServer() { SSL_CTX_free(ctx); }
  Bytes answer(const Bytes& hello) {
    SSL* ssl = SSL_new(ctx);
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, in, out);
    SSL_set_accept_state(ssl);
    BIO_write(in, hello.data(), static_cast<int>(hello.size()));
    SSL_do_handshake(ssl);
    char* data = nullptr;
    long n = BIO_get_mem_data(out, &data);
    Bytes reply(data, data + std::max(0L, n));
    SSL_free(ssl);
    return reply;
  }
};

}  // namespace

TEST_CASE("catalogue: libssl suites by IANA name, legacy suites added, per-version filtering") {
  const Suite* gcm = find_suite("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
  REQUIRE(gcm);
  CHECK(gcm->code == 0xC02F);
  CHECK(gcm->min_version == TlsVersion::tls1_2);
  CHECK(gcm->in_libssl);
  const Suite* des3 = find_suite(std::uint16_t{0x000A});
  REQUIRE(des3);
  CHECK(des3->name == "TLS_RSA_WITH_3DES_EDE_CBC_SHA");
  CHECK_FALSE(des3->in_libssl);
  for (const auto& s : suites_for(TlsVersion::tls1_3)) CHECK(s.tls13);
  CHECK(suites_for(TlsVersion::tls1_3).size() == 5);
  for (const auto& s : suites_for(TlsVersion::tls1_0)) CHECK(s.min_version == TlsVersion::tls1_0);
  CHECK(suites_for(TlsVersion::tls1_2).size() > suites_for(TlsVersion::tls1_0).size());
  CHECK(suite_name(0xFEFE) == "0xFEFE");
}

TEST_CASE("ClientHello templates exist for every version and their suite list can be rewritten") {
  for (auto v : kAllVersions) {
    INFO(version_label(v));
    std::string err;
    auto hello = client_hello_template(v, "example.test", &err);
    REQUIRE_MESSAGE(hello, err);
    CHECK(offered_suites(*hello).size() > 1);
    Bytes one = with_cipher_suites(*hello, {0x000A});
    auto offered = offered_suites(one);
    REQUIRE(!offered.empty());
    CHECK(offered.front() == 0x000A);
    for (std::size_t i = 1; i < offered.size(); ++i) CHECK((offered[i] == 0x00FF || offered[i] == 0x5600));
    // Lengths stay consistent: record = handshake + 4, handshake = body.
    CHECK(static_cast<std::size_t>(one[3] << 8 | one[4]) == one.size() - 5);
    CHECK(static_cast<std::size_t>(one[6] << 16 | one[7] << 8 | one[8]) == one.size() - 9);
  }
  CHECK(with_cipher_suites(Bytes{1, 2, 3}, {0x002F}).empty());
}

TEST_CASE("a rewritten ClientHello is answered by a real libssl server, and the reply parses") {
  MemoryServer server("ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA");
  auto tpl = client_hello_template(TlsVersion::tls1_2, "");
  REQUIRE(tpl);
  ReplyParser p1;
  auto accepted = p1.feed(server.answer(with_cipher_suites(*tpl, {0x0035})));
  CHECK(accepted.kind == ServerReply::Kind::server_hello);
  CHECK(accepted.cipher == 0x0035);
  CHECK(accepted.version == 0x0303);
  ReplyParser p2;
  auto refused = p2.feed(server.answer(with_cipher_suites(*tpl, {0x009C})));
  CHECK(refused.kind == ServerReply::Kind::alert);
  CHECK(alert_name(refused.alert) == "handshake_failure");
  // Server preference: offered in the "wrong" order, the server still picks its first.
  MemoryServer pref("AES256-SHA:AES128-SHA", true);
  ReplyParser p3;
  CHECK(p3.feed(pref.answer(with_cipher_suites(*tpl, {0x002F, 0x0035}))).cipher == 0x0035);

  auto tpl13 = client_hello_template(TlsVersion::tls1_3, "");
  REQUIRE(tpl13);
  ReplyParser p4;
  Bytes reply = server.answer(with_cipher_suites(*tpl13, {0x1303}));
  ServerReply r{};
  for (auto b : reply) {  // byte by byte: the parser must wait for whole records
    r = p4.feed(&b, 1);
    if (r.kind != ServerReply::Kind::pending) break;
  }
  CHECK(r.kind == ServerReply::Kind::server_hello);
  CHECK(r.version == 0x0304);  // from supported_versions, not legacy_version
  CHECK(r.cipher == 0x1303);
}

TEST_CASE("reply parser names plain HTTP, garbage and alerts") {
  const char* http = "HTTP/1.1 400 Bad Request\r\n\r\n";
  ReplyParser a;
  CHECK(a.feed(reinterpret_cast<const std::uint8_t*>(http), 3).kind == ServerReply::Kind::pending);
  CHECK(a.feed(reinterpret_cast<const std::uint8_t*>(http) + 3, 5).kind == ServerReply::Kind::plain_http);
  ReplyParser b;
  CHECK(b.feed(Bytes{'S', 'S', 'H', '-'}).kind == ServerReply::Kind::not_tls);
  ReplyParser c;
  CHECK(c.feed(Bytes{22, 9, 9, 0, 4}).kind == ServerReply::Kind::not_tls);  // not version 3.x
  ReplyParser d;
  auto alert = d.feed(Bytes{21, 3, 3, 0, 2, 2, 112});
  CHECK(alert.kind == ServerReply::Kind::alert);
  CHECK(alert_name(alert.alert) == "unrecognized_name");
  ReplyParser e;
  CHECK(e.feed(Bytes{22, 3, 3, 0, 4, 11, 0, 0, 0}).kind == ServerReply::Kind::not_tls);  // Certificate first
  ReplyParser f;
  CHECK(f.feed(Bytes{22, 3, 3, 0x50, 0}).kind == ServerReply::Kind::not_tls);  // oversize record
}

namespace {

// The extension types of a ClientHello record, in order (empty when it has none).
std::vector<std::uint16_t> extension_types(const Bytes& h) {
  std::size_t p = 5 + 4 + 2 + 32;
  p += 1 + h[p];
  p += 2 + static_cast<std::size_t>(h[p] << 8 | h[p + 1]);
  p += 1 + h[p];
  std::vector<std::uint16_t> types;
  for (p += 2; p + 4 <= h.size(); p += 4 + static_cast<std::size_t>(h[p + 2] << 8 | h[p + 3]))
    types.push_back(static_cast<std::uint16_t>(h[p] << 8 | h[p + 1]));
  return types;
}

}  // namespace

TEST_CASE("RFC 7685 padding: a 256-511 byte ClientHello becomes 512, others stay as they are") {
  MemoryServer server("ALL:@SECLEVEL=0");
  auto tpl = client_hello_template(TlsVersion::tls1_2, "");
  REQUIRE(tpl);
  std::vector<std::uint16_t> every;
  for (const auto& s : suites_for(TlsVersion::tls1_2)) every.push_back(s.code);
  bool saw_padded = false, saw_small = false, saw_large = false;
  for (std::size_t n = 1; n <= every.size(); ++n) {
    std::vector<std::uint16_t> offer(every.begin(), every.begin() + static_cast<long>(n));
    Bytes hello = with_cipher_suites(*tpl, offer);
    REQUIRE(!hello.empty());
    std::size_t message = hello_message_length(hello);
    INFO(n << " suites, " << message << " bytes");
    auto types = extension_types(hello);
    bool padded = std::count(types.begin(), types.end(), 21) == 1;
    CHECK((message < 256 || message >= 512));
    CHECK(std::count(types.begin(), types.end(), 21) <= 1);
    if (padded) {
      CHECK(message >= 512);
      CHECK(message <= 515);  // 508-511 bytes leave no room for the 4-byte header: it goes past 512
      saw_padded = true;
    }
    saw_small = saw_small || message < 256;
    saw_large = saw_large || (message >= 512 && !padded);
    // Consistent lengths, and a real libssl server takes every size.
    CHECK(static_cast<std::size_t>(hello[3] << 8 | hello[4]) == hello.size() - 5);
    ReplyParser p;
    auto r = p.feed(server.answer(hello));
    // (The first suites of the catalogue may be ones this libssl lacks: an
    // alert is a parsed refusal, which is what a wrong length would not give.)
    CHECK((r.kind == ServerReply::Kind::server_hello || r.kind == ServerReply::Kind::alert));
    if (padded) CHECK(r.kind == ServerReply::Kind::server_hello);
    // Padding again changes nothing: the old padding is dropped first.
    CHECK(with_middlebox_padding(hello) == hello);
  }
  CHECK(saw_padded);
  CHECK(saw_small);
  CHECK(saw_large);
  CHECK(with_middlebox_padding(Bytes{22, 3, 1, 0, 1, 1}).empty());
  CHECK(hello_message_length(Bytes{1, 2, 3}) == 0);
}
