#include "checks/tls/certs.hpp"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cctype>
#include <ctime>

#include "checks/common/finding.hpp"
#include "checks/common/trust_store.hpp"

namespace callready::checks::tls {

namespace {

std::string name_text(const X509_NAME* n) {
  BIO* b = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long len = BIO_get_mem_data(b, &data);
  std::string out(data, data + std::max(0L, len));
  BIO_free(b);
  return out;
}

std::string cn_of(const X509_NAME* n) {
  int i = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
  if (i < 0) return {};
  const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, s);
  if (len < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

std::string time_text(const ASN1_TIME* t) {
  struct tm tm {};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return {};
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string base64(const unsigned char* d, std::size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), d, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(len));
  return out;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string hex(const std::string& b64) {
  unsigned char raw[64];
  int n = EVP_DecodeBlock(raw, reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
  std::string out;
  for (int i = 0; i < std::min(n, 32); ++i) out += fmt::format("{:02x}", raw[i]);
  return out;
}

bool is_self_issued(X509* c) { return X509_check_issued(c, c) == X509_V_OK; }

// Verification failed above the leaf, and only for want of a trusted root
// (dates and the name are judged apart).
bool fails_only_at_root(const std::vector<std::pair<int, int>>& errors) {
  bool at_root = false;
  for (auto [err, depth] : errors) {
    switch (err) {
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        if (depth == 0) return false;
        at_root = true;
        break;
      case X509_V_ERR_CERT_HAS_EXPIRED:
      case X509_V_ERR_CERT_NOT_YET_VALID:
      case X509_V_ERR_HOSTNAME_MISMATCH:
      case X509_V_ERR_IP_ADDRESS_MISMATCH:
        break;
      default:
        return false;
    }
  }
  return at_root;
}

std::string capitalised(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

}  // namespace

CertInfo describe(X509* cert) {
  CertInfo info;
  info.subject = name_text(X509_get_subject_name(cert));
  info.issuer = name_text(X509_get_issuer_name(cert));
  info.common_name = cn_of(X509_get_subject_name(cert));
  if (auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
      if (g->type == GEN_DNS) {
        const ASN1_STRING* s = g->d.dNSName;
        info.san.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                              static_cast<std::size_t>(ASN1_STRING_length(s)));
      } else if (g->type == GEN_IPADD) {
        const ASN1_OCTET_STRING* s = g->d.iPAddress;
        const unsigned char* d = ASN1_STRING_get0_data(s);
        if (ASN1_STRING_length(s) == 4) {
          boost::asio::ip::address_v4::bytes_type b;
          std::copy(d, d + 4, b.begin());
          info.san.push_back(boost::asio::ip::address_v4(b).to_string());
        } else if (ASN1_STRING_length(s) == 16) {
          boost::asio::ip::address_v6::bytes_type b;
          std::copy(d, d + 16, b.begin());
          info.san.push_back(boost::asio::ip::address_v6(b).to_string());
        }
      }
    }
    GENERAL_NAMES_free(names);
  }
  info.not_before = time_text(X509_get0_notBefore(cert));
  info.not_after = time_text(X509_get0_notAfter(cert));
  int days = 0, secs = 0;
  if (ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(cert))) info.days_left = days;
  if (EVP_PKEY* key = X509_get0_pubkey(cert)) {
    info.key_bits = EVP_PKEY_get_bits(key);
    switch (EVP_PKEY_get_base_id(key)) {
      case EVP_PKEY_RSA:
        info.key_type = "RSA";
        break;
      case EVP_PKEY_EC:
        info.key_type = "EC";
        break;
      case EVP_PKEY_DSA:
        info.key_type = "DSA";
        break;
      case EVP_PKEY_ED25519:
        info.key_type = "ED25519";
        break;
      case EVP_PKEY_ED448:
        info.key_type = "ED448";
        break;
      default:
        info.key_type = "other";
    }
  }
  info.signature_algorithm = OBJ_nid2ln(X509_get_signature_nid(cert));
  unsigned char* der = nullptr;
  int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  if (len > 0) {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(der, static_cast<std::size_t>(len), md);
    info.spki_sha256 = base64(md, sizeof md);
    OPENSSL_free(der);
  }
  unsigned char fp[EVP_MAX_MD_SIZE];
  unsigned int fp_len = 0;
  if (X509_digest(cert, EVP_sha256(), fp, &fp_len) == 1)
    for (unsigned int i = 0; i < fp_len; ++i) info.fingerprint_sha256 += fmt::format("{:02x}", fp[i]);
  info.self_signed = is_self_issued(cert) && X509_verify(cert, X509_get0_pubkey(cert)) == 1;
  return info;
}

void to_json(nlohmann::json& j, const CertInfo& c) {
  j = {{"subject", c.subject},
       {"issuer", c.issuer},
       {"san", c.san},
       {"not_before", c.not_before},
       {"not_after", c.not_after},
       {"days_left", c.days_left},
       {"key_type", c.key_type},
       {"key_bits", c.key_bits},
       {"signature_algorithm", c.signature_algorithm},
       {"spki_sha256", c.spki_sha256},
       {"fingerprint_sha256", c.fingerprint_sha256},
       {"self_signed", c.self_signed}};
}

ChainVerdict judge_chain(const HandshakeResult& hs, const std::string& server_name, const std::string& ca_file) {
  ChainVerdict v;
  if (hs.presented.empty()) return v;
  X509* leaf = hs.presented.front().get();

  boost::system::error_code ec;
  auto ip = boost::asio::ip::make_address(server_name, ec);
  v.hostname_match = !ec ? X509_check_ip_asc(leaf, ip.to_string().c_str(), 0) == 1
                         : X509_check_host(leaf, server_name.c_str(), server_name.size(), 0, nullptr) == 1;

  v.trusted = true;
  for (auto [err, depth] : hs.verify_errors) {
    v.errors.push_back(fmt::format("depth {}: {}", depth, X509_verify_cert_error_string(err)));
    switch (err) {
      case X509_V_ERR_CERT_HAS_EXPIRED:
        v.expired = true;
        break;
      case X509_V_ERR_CERT_NOT_YET_VALID:
        v.not_yet_valid = true;
        break;
      case X509_V_ERR_HOSTNAME_MISMATCH:
      case X509_V_ERR_IP_ADDRESS_MISMATCH:
        break;
      default:
        v.trusted = false;
    }
  }

  // Walk the presented certificates from the leaf: each must be followed by
  // its issuer until a self-issued root or a certificate whose issuer is a
  // trust anchor. A walk that stops at a CA certificate the server sent has
  // no gap either: only its root is unknown here (a private CA, an
  // inspecting proxy's). A walk that stops at the leaf (or a non-CA) means a
  // client has to find an intermediate itself.
  auto anchors = trust_store(ca_file);
  X509_STORE* store = anchors.store.get();  // null when ca_file is unreadable: no anchor is found
  X509_STORE_CTX* sctx = X509_STORE_CTX_new();
  X509* cur = leaf;
  bool anchored = false;
  for (std::size_t steps = 0; steps <= hs.presented.size(); ++steps) {
    if (is_self_issued(cur)) {
      anchored = true;
      break;
    }
    X509* next = nullptr;
    for (const auto& c : hs.presented)
      if (c.get() != cur && X509_check_issued(c.get(), cur) == X509_V_OK) next = c.get();
    if (next) {
      cur = next;
      continue;
    }
    X509* anchor = nullptr;
    if (store && X509_STORE_CTX_init(sctx, store, cur, nullptr) == 1 &&
        X509_STORE_CTX_get1_issuer(&anchor, sctx, cur) == 1) {
      anchored = true;
      X509_free(anchor);
    }
    X509_STORE_CTX_cleanup(sctx);
    break;
  }
  bool sent_a_ca = cur != leaf && X509_check_ca(cur) >= 1;
  v.chain_complete = anchored || sent_a_ca;
  if (!v.chain_complete) v.missing_issuer = name_text(X509_get_issuer_name(cur));
  v.root_unknown = v.chain_complete && !v.trusted && !is_self_issued(leaf) && fails_only_at_root(hs.verify_errors);
  v.top_issuer = name_text(X509_get_issuer_name(cur));
  if (!hs.verified.empty()) v.top_issuer = name_text(X509_get_issuer_name(hs.verified.back().get()));
  X509_STORE_CTX_free(sctx);
  return v;
}

bool chain_matches_expected(const HandshakeResult& hs, const std::vector<std::string>& expected) {
  std::vector<X509*> all;
  for (const auto& c : hs.presented) all.push_back(c.get());
  for (const auto& c : hs.verified) all.push_back(c.get());
  for (X509* c : all) {
    CertInfo info = describe(c);
    std::string issuer_cn = cn_of(X509_get_issuer_name(c));
    std::string spki_hex = hex(info.spki_sha256);
    for (const auto& e : expected) {
      std::string want = lower(e);
      bool is_pin = want.rfind("sha256/", 0) == 0;
      if (is_pin && e.substr(7) == info.spki_sha256) return true;
      if (want == spki_hex) return true;
      if (!is_pin && (want == lower(info.common_name) || want == lower(info.subject) || want == lower(issuer_cn) ||
                      want == lower(info.issuer)))
        return true;
    }
  }
  return false;
}

std::vector<Finding> certificate_findings(const CertInfo& leaf, const ChainVerdict& v, const std::string& name,
                                          const std::string& label) {
  std::vector<Finding> out;
  const std::string cert = capitalised(label);
  if (v.expired)
    out.push_back(make_finding(Severity::critical, "tls.cert_expired",
                               fmt::format("{} for {} expired on {}.", cert, name, leaf.not_after),
                               "Renew the certificate and install it with its intermediates."));
  else if (v.not_yet_valid)
    out.push_back(make_finding(Severity::critical, "tls.cert_not_yet_valid",
                               fmt::format("{} is not valid before {}.", cert, leaf.not_before),
                               "Check the server's and this machine's clocks (NTP), or reissue the certificate."));
  else if (leaf.days_left < 30)
    out.push_back(make_finding(Severity::warning, "tls.cert_expiring",
                               fmt::format("{} expires in {} days ({}).", cert, leaf.days_left, leaf.not_after),
                               "Renew the certificate before it expires."));
  if (!v.hostname_match)
    out.push_back(make_finding(Severity::critical, "tls.hostname_mismatch",
                               fmt::format("{} does not name {} (CN {}, SAN {}).", cert, name, leaf.common_name,
                                           leaf.san.empty() ? "none" : fmt::format("{}", fmt::join(leaf.san, ", "))),
                               "Issue a certificate whose subjectAltName contains the FQDN clients connect to."));
  if (!v.chain_complete)
    out.push_back(make_finding(
        v.trusted ? Severity::warning : Severity::critical, "tls.chain_incomplete",
        fmt::format("The server sends {} without the intermediate certificate that issued it (\"{}\"): clients "
                    "that do not already hold that intermediate cannot build a chain to a trusted root.",
                    label, v.missing_issuer),
        "Configure the server to send the full chain (leaf, then each intermediate)."));
  if (leaf.self_signed)
    out.push_back(make_finding(Severity::critical, "tls.cert_self_signed", fmt::format("{} is self-signed.", cert),
                               "Use a certificate signed by a public certificate authority."));
  else if (v.root_unknown)
    out.push_back(make_finding(
        Severity::critical, "tls.root_untrusted",
        fmt::format("The server sends a complete chain for {}, but it ends at \"{}\", a root this machine does not "
                    "trust: a private CA, most often that of a TLS-inspecting proxy or firewall on the path.",
                    label, v.top_issuer),
        "If a proxy inspects this traffic, exempt this destination from inspection or install the proxy's CA in "
        "every client's trust store; if the root is a private CA on purpose, give it to the check as ca_file."));
  else if (!v.trusted)
    out.push_back(make_finding(Severity::critical, "tls.cert_untrusted",
                               fmt::format("The chain of {} does not lead to a trusted authority ({}).", label,
                                           v.errors.empty() ? "unknown" : v.errors.front()),
                               "Use a certificate from a public CA, or add the private CA to the clients' trust stores "
                               "(ca_file for this probe)."));
  bool weak = (leaf.key_type == "RSA" && leaf.key_bits < 2048) || (leaf.key_type == "DSA") ||
              (leaf.key_type == "EC" && leaf.key_bits < 224);
  if (weak)
    out.push_back(make_finding(Severity::warning, "tls.weak_key",
                               fmt::format("{} has a weak key: {} {} bits.", cert, leaf.key_type, leaf.key_bits),
                               "Reissue with RSA 2048+ (3072 preferred) or ECDSA P-256+."));
  std::string sig = lower(leaf.signature_algorithm);
  if (sig.find("sha1") != std::string::npos || sig.find("md5") != std::string::npos)
    out.push_back(make_finding(Severity::warning, "tls.weak_signature",
                               fmt::format("{} is signed with {}.", cert, leaf.signature_algorithm),
                               "Reissue the certificate with a SHA-256 (or stronger) signature."));
  return out;
}

}  // namespace callready::checks::tls
