#pragma once
// What the tls check says about the server's certificate chain: the chain as
// presented, whether it matches the name, reaches a trust anchor, is complete,
// and whether it ends at the issuers the site expects (TLS inspection).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checks/tls/wire.hpp"
#include "probe/model.hpp"

namespace callready::checks::tls {

struct CertInfo {
  std::string subject, issuer;  // RFC 2253
  std::string common_name;
  std::vector<std::string> san;
  std::string not_before, not_after;  // RFC 3339
  long days_left = 0;
  std::string key_type;  // RSA, EC, ED25519, ...
  int key_bits = 0;
  std::string signature_algorithm;
  std::string spki_sha256;  // base64
  bool self_signed = false;
};
CertInfo describe(X509* cert);
void to_json(nlohmann::json&, const CertInfo&);

struct ChainVerdict {
  bool hostname_match = false;
  bool chain_complete = false;  // the presented certificates reach an anchor (or a root) with no gap
  bool trusted = false;         // a path to a trust anchor, signatures good (dates judged apart)
  bool expired = false, not_yet_valid = false;
  std::vector<std::string> errors;  // libssl's verify errors, in words
  std::string top_issuer;           // the issuer at the far end of the chain
};
ChainVerdict judge_chain(const HandshakeResult& hs, const std::string& server_name, const std::string& ca_file);

// `expected` holds CA names (CN or full DN, case-insensitive) or SPKI SHA-256
// pins ("sha256/BASE64" or 64 hex digits). True when any certificate in the
// presented or verified chain matches one.
bool chain_matches_expected(const HandshakeResult& hs, const std::vector<std::string>& expected);

// Findings about the leaf and the chain (pure).
std::vector<Finding> certificate_findings(const CertInfo& leaf, const ChainVerdict& v, const std::string& server_name);

}  // namespace callready::checks::tls
