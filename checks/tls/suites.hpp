#pragma once
// The catalogue of cipher suites the tls check can offer: every suite the
// local libssl knows (named by OpenSSL's IANA names) plus a table of legacy
// suites this libssl was built without (3DES, RC4, DES, export, static DH).
// Because the prober sends a ClientHello whose cipher list it writes itself
// (hello.hpp), legacy suites are testable too: acceptance is read from the
// ServerHello, which never needs the local library to implement the cipher.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace callready::checks::tls {

enum class TlsVersion : std::uint16_t { tls1_0 = 0x0301, tls1_1 = 0x0302, tls1_2 = 0x0303, tls1_3 = 0x0304 };
inline constexpr TlsVersion kAllVersions[] = {TlsVersion::tls1_0, TlsVersion::tls1_1, TlsVersion::tls1_2,
                                              TlsVersion::tls1_3};

const char* version_key(TlsVersion v);    // "tls1.2" (CONTRACT.md details key)
const char* version_label(TlsVersion v);  // "TLS 1.2"
std::optional<TlsVersion> version_from_key(const std::string& key);

struct Suite {
  std::uint16_t code = 0;
  std::string name;  // IANA name
  TlsVersion min_version = TlsVersion::tls1_0;
  bool tls13 = false;     // a TLS 1.3 suite (only valid in 1.3)
  bool in_libssl = true;  // false: from the legacy table
};

// Every suite known, libssl's in its preference (strength) order first.
const std::vector<Suite>& suite_catalogue();
// The suites worth offering for one version.
std::vector<Suite> suites_for(TlsVersion v);
const Suite* find_suite(std::uint16_t code);
const Suite* find_suite(const std::string& iana_name);
// IANA name of any code, "0xC02F" style when unknown.
std::string suite_name(std::uint16_t code);

}  // namespace callready::checks::tls
