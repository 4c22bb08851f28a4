#pragma once
// Built-in cipher policies, kept as data in policies.cpp with the seed document
// and section each comes from, and the one function that judges a scan by them.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "checks/tls/suites.hpp"
#include "probe/model.hpp"

namespace callready::checks::tls {

// seed 004's rule for Xsi suites: which key exchange, cipher, mode and (for
// CBC) which MAC a suite may use.
struct SuiteRule {
  std::vector<std::string> key_exchanges;  // first token after "TLS_": "DHE", "ECDHE"
  std::vector<std::string> ciphers;        // "AES_128", "AES_256"
  std::vector<std::string> modes;          // "GCM", "CBC"
  std::vector<std::string> cbc_macs;       // "SHA256", "SHA384", "SHA512"
};

struct Policy {
  std::string name;
  std::string source;  // seed file + section heading (original language, English gloss)
  std::vector<TlsVersion> required_versions;
  std::vector<TlsVersion> allowed_versions;
  // Explicit allow-lists per version, in the document's preference order.
  std::map<TlsVersion, std::vector<std::string>> allowed_suites;
  std::optional<SuiteRule> rule;  // when set, a suite is allowed if it meets the rule
  // Suites the document lists as supported although they miss the rule: accepted
  // ones are reported as information, not as violations.
  std::vector<std::string> listed_exceptions;
};

const Policy* find_policy(const std::string& name);
std::vector<std::string> policy_names();

bool policy_allows(const Policy& p, TlsVersion v, const std::string& suite);
bool meets_rule(const SuiteRule& r, const std::string& suite);

struct VersionScan {
  bool tested = false;
  bool supported = false;
  std::vector<std::string> ciphers;  // in server order when enforced
  std::optional<bool> server_order;
};

std::vector<Finding> evaluate_policy(const Policy& p, const std::map<TlsVersion, VersionScan>& scan);

}  // namespace callready::checks::tls
