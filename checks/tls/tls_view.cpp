// What the HTML report draws for a tls check, from its details alone: the
// suites per version coloured by the verdicts the scan wrote (so an old report
// shows the policy it was judged against), the certificate and its chain.
#include <fmt/format.h>

#include <algorithm>

#include "checks/tls/tls_check.hpp"

namespace callready::checks::tls {

namespace {

using nlohmann::json;

bool has(const json& list, const std::string& name) {
  return list.is_array() && std::find(list.begin(), list.end(), json(name)) != list.end();
}

view::Matrix suite_matrix(const json& versions, const json& policy) {
  view::Matrix m;
  bool judged = policy.is_object();
  m.caption = "Cipher suites accepted per TLS version";
  if (judged)
    m.caption += fmt::format(", judged by policy {}{}", view::text(policy.value("name", json())),
                             policy.value("source", "").empty() ? "" : " (" + view::text(policy["source"]) + ")");
  std::vector<std::string> keys;
  for (const auto& [k, _] : versions.items()) keys.push_back(k);
  std::sort(keys.begin(), keys.end());  // tls1.0 < tls1.1 < tls1.2 < tls1.3
  for (std::size_t c = 0; c < keys.size(); ++c) {
    const json& v = versions[keys[c]].is_object() ? versions[keys[c]] : json::object();
    auto version = version_from_key(keys[c]);
    bool supported = v.value("supported", false) == true;
    bool allowed = v.value("version_allowed", true) == true;
    m.columns.push_back({version ? version_label(*version) : keys[c], !supported ? view::Tone::muted
                                                                      : allowed  ? view::Tone::plain
                                                                                 : view::Tone::bad});
    const json& ciphers = v.value("ciphers", json::array());
    if (!ciphers.is_array()) continue;
    const json& forbidden = v.value("ciphers_forbidden", json::array());
    for (const auto& s : ciphers) {
      if (!s.is_string()) continue;
      std::string name = s.get<std::string>();
      auto row = std::find_if(m.rows.begin(), m.rows.end(), [&](const auto& r) { return r.label == name; });
      if (row == m.rows.end()) row = m.rows.insert(m.rows.end(), {name, {}});
      row->cells.resize(keys.size(), view::Tone::muted);
      row->cells[c] = !judged ? view::Tone::plain : has(forbidden, name) ? view::Tone::bad : view::Tone::good;
    }
  }
  for (auto& r : m.rows) r.cells.resize(keys.size(), view::Tone::muted);
  return m;
}

view::Cell flag(const json& v) {
  if (!v.is_boolean()) return {view::text(v), view::Tone::muted};
  return {v.get<bool>() ? "yes" : "no", v.get<bool>() ? view::Tone::good : view::Tone::bad};
}

view::Table certificate_table(const json& cert) {
  view::Table t;
  t.caption = "Certificate";
  for (const auto& [k, v] : cert.items()) {
    if (k == "chain") continue;
    bool verdict = k == "hostname_match" || k == "chain_complete" || k == "trusted" || k == "expected_issuer_seen";
    view::Cell value = verdict ? flag(v) : view::Cell{view::text(v)};
    value.mono = k == "subject" || k == "issuer" || k == "san" || k == "spki_sha256";
    t.rows.push_back({view::Cell{k, view::Tone::plain, true}, value});
  }
  return t;
}

view::Table chain_table(const json& chain) {
  view::Table t;
  t.caption = "Certificate chain as served (leaf first)";
  t.headers = {"#", "Subject", "Issuer", "Expires", "Key"};
  for (std::size_t i = 0; i < chain.size(); ++i) {
    const json& c = chain[i].is_object() ? chain[i] : json::object();
    std::string key = view::text(c.value("key_type", json()));
    if (c.contains("key_bits")) key += " " + view::text(c["key_bits"]);
    t.rows.push_back({view::Cell{std::to_string(i)},
                      view::Cell{view::text(c.value("subject", json())), view::Tone::plain, true},
                      view::Cell{view::text(c.value("issuer", json())), view::Tone::plain, true},
                      view::Cell{view::text(c.value("not_after", json()))}, view::Cell{key}});
  }
  return t;
}

// Drawn only when the server holds more than one certificate.
view::Table served_table(const json& served) {
  view::Table t;
  t.caption = "Certificates the server serves (one per key type asked for)";
  t.headers = {"Subject", "Key", "Expires", "Name", "Trusted", "Chain complete", "Offers answered"};
  for (const auto& c : served) {
    if (!c.is_object()) continue;
    std::string key = view::text(c.value("key_type", json()));
    if (c.contains("key_bits")) key += " " + view::text(c["key_bits"]);
    long days = c.value("days_left", 0L);
    t.rows.push_back(
        {view::Cell{view::text(c.value("subject", json())), view::Tone::plain, true}, view::Cell{key},
         view::Cell{view::text(c.value("not_after", json())), days < 0 ? view::Tone::bad : view::Tone::plain},
         flag(c.value("hostname_match", json())), flag(c.value("trusted", json())),
         flag(c.value("chain_complete", json())), view::Cell{view::text(c.value("offers", json()))}});
  }
  return t;
}

}  // namespace

view::View tls_view(const json& d) {
  view::View out;
  if (!d.is_object()) return out;
  const json& versions = d.value("versions", json::object());
  if (versions.is_object() && !versions.empty()) {
    out.blocks.push_back(suite_matrix(versions, d.value("policy", json())));
    out.shown_keys.push_back("versions");
    if (d.contains("policy")) out.shown_keys.push_back("policy");
  }
  const json& cert = d.value("certificate", json());
  if (cert.is_object() && !cert.empty()) {
    out.blocks.push_back(certificate_table(cert));
    const json& chain = cert.value("chain", json::array());
    if (chain.is_array() && !chain.empty()) out.blocks.push_back(chain_table(chain));
    out.shown_keys.push_back("certificate");
  }
  // One served certificate is the one the certificate table drew.
  const json& served = d.value("certificates", json::array());
  if (served.is_array() && served.size() > 1) out.blocks.push_back(served_table(served));
  if (served.is_array() && !served.empty()) out.shown_keys.push_back("certificates");
  return out;
}

}  // namespace callready::checks::tls
