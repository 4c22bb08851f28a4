#pragma once
// The TLS pieces of the `proxy` kind: the HTTPS echo's identity (a
// self-signed key made once per responder process, so a pin is stable while
// it runs) and what the check reads from a certificate chain.
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <vector>

namespace callready::checks::proxy {

// Hex SHA-256 of the certificate's SubjectPublicKeyInfo (DER): what
// `pin_sha256` names. "" when the key cannot be encoded.
std::string spki_sha256_hex(X509* cert);

// A pin as written in a profile: 64 hex digits (colons allowed), or
// "sha256/" + base64 of the 32 bytes. Lower-case hex, or "" when malformed.
std::string normalise_pin(const std::string& text);

// One line, RFC 2253: "CN=Squid CA,O=Example".
std::string name_of(X509_NAME* name);
// The CN of a name, or the whole name when it has none.
std::string common_name_of(X509_NAME* name);

struct ChainCert {
  std::string subject, issuer;
  std::string issuer_cn;
  std::string spki_sha256;  // hex
};
// The chain as the server sent it, leaf first.
std::vector<ChainCert> describe_chain(SSL* ssl);

// True when a certificate of `chain` is issued by (or is) one of `expected`
// (CN or full DN, case-insensitive; or a SPKI pin).
bool chain_has_issuer(const std::vector<ChainCert>& chain, const std::vector<std::string>& expected);

// The HTTPS echo's identity: a fresh P-256 key and a self-signed certificate,
// made on first use and shared by every HTTPS echo port of the process.
struct EchoIdentity {
  boost::asio::ssl::context context{boost::asio::ssl::context::tls_server};
  std::string pin;  // spki_sha256_hex of its certificate
};
// nullptr with `error` set when OpenSSL could not make one.
std::shared_ptr<EchoIdentity> echo_identity(std::string& error);
// The pin of the identity an HTTPS echo of this process serves, "" when none
// runs: the plain echo tells it to clients, who learn it over another path
// than the one a TLS-inspecting proxy intercepts.
std::string served_echo_pin();

}  // namespace callready::checks::proxy
