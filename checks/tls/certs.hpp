#pragma once
// What the tls check says about the server's certificate chain: the chain as
// presented, whether it matches the name, reaches a trust anchor, is complete
// (or complete but ending at a root this client does not know, as a
// TLS-inspecting proxy's chain does), and whether it ends at the issuers the
// site expects (TLS inspection).
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
  std::string spki_sha256;         // base64
  std::string fingerprint_sha256;  // hex, of the whole certificate: tells served certificates apart
  bool self_signed = false;
};
CertInfo describe(X509* cert);
void to_json(nlohmann::json&, const CertInfo&);

struct ChainVerdict {
  bool hostname_match = false;
  // The presented certificates lead with no gap from the leaf to a trust
  // anchor, a root, or a CA certificate whose own issuer is a root the client
  // lacks (then root_unknown): the server sent what it should.
  bool chain_complete = false;
  bool trusted = false;  // a path to a trust anchor, signatures good (dates judged apart)
  bool expired = false, not_yet_valid = false;
  // Verification failed only because the chain ends at a root this client
  // does not trust (a private CA, most often a TLS-inspecting proxy's).
  bool root_unknown = false;
  std::vector<std::string> errors;  // libssl's verify errors, in words
  std::string top_issuer;           // the issuer at the far end of the chain
  std::string missing_issuer;       // when incomplete: the issuer of the last certificate that was sent
};
ChainVerdict judge_chain(const HandshakeResult& hs, const std::string& server_name, const std::string& ca_file);

// `expected` holds CA names (CN or full DN, case-insensitive) or SPKI SHA-256
// pins ("sha256/BASE64" or 64 hex digits). True when any certificate in the
// presented or verified chain matches one.
bool chain_matches_expected(const HandshakeResult& hs, const std::vector<std::string>& expected);

// Findings about the leaf and the chain (pure). `label` names the certificate
// in the messages ("the server certificate", "the RSA certificate").
std::vector<Finding> certificate_findings(const CertInfo& leaf, const ChainVerdict& v, const std::string& server_name,
                                          const std::string& label = "the server certificate");

}  // namespace callready::checks::tls
