#pragma once
// A cipher policy is data: the profile passes it as the tls check's `policy`
// param (usually {"$data": NAME}, resolved from probe/profiles/data/). Shape:
//   {"name": "...", "source": "where it is written",
//    "required_versions": ["tls1.2"],              (default none)
//    "allowed_versions": ["tls1.2", "tls1.3"],     (default all)
//    "allowed_suites": {"tls1.2": [IANA names in preference order], ...},
//    "suite_rule": {"key_exchanges": ["DHE", "ECDHE"], "ciphers": ["AES_128", "AES_256"],
//                   "modes": ["GCM", "CBC"], "cbc_macs": ["SHA256", "SHA384"]},
//    "forbidden_suites": [IANA names],             (never allowed)
//    "listed_exceptions": [IANA names]}            (outside the rule but listed: information)
// A suite is allowed when it is not forbidden and either an allow-list names
// it or it meets the rule; without allow-lists and rule, every suite not
// forbidden is allowed. Everything here is pure.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "checks/tls/suites.hpp"
#include "probe/model.hpp"
#include "probe/params.hpp"

namespace callready::checks::tls {

// Which key exchange, cipher, mode and (for CBC) which MAC a suite may use.
struct SuiteRule {
  std::vector<std::string> key_exchanges;  // first token after "TLS_": "DHE", "ECDHE"
  std::vector<std::string> ciphers;        // "AES_128", "AES_256"
  std::vector<std::string> modes;          // "GCM", "CBC"
  std::vector<std::string> cbc_macs;       // "SHA256", "SHA384", "SHA512"
};

struct Policy {
  std::string name;
  std::string source;
  std::vector<TlsVersion> required_versions;
  std::vector<TlsVersion> allowed_versions;
  std::map<TlsVersion, std::vector<std::string>> allowed_suites;  // in preference order
  std::optional<SuiteRule> suite_rule;
  std::vector<std::string> forbidden_suites;
  std::vector<std::string> listed_exceptions;
};

// Reads params[key] as a policy; nullopt (and errors under "key.") when absent or invalid.
std::optional<Policy> read_policy(ParamReader& r, const std::string& key);

bool meets_rule(const SuiteRule& r, const std::string& suite);
bool version_allowed(const Policy& p, TlsVersion v);

enum class SuiteVerdict { allowed, listed_exception, forbidden };
// The verdict on one accepted suite of an allowed version.
SuiteVerdict judge_suite(const Policy& p, TlsVersion v, const std::string& suite);
// Suites the policy names (allow-lists, exceptions) that this prober cannot offer.
std::vector<std::string> unknown_suites(const Policy& p);

struct VersionScan {
  bool tested = false;
  bool supported = false;
  std::vector<std::string> ciphers;  // in server order when enforced
  std::optional<bool> server_order;
};

std::vector<Finding> evaluate_policy(const Policy& p, const std::map<TlsVersion, VersionScan>& scan);

}  // namespace callready::checks::tls
