#include "reports/html_details.hpp"

#include <algorithm>
#include <set>

#include "checks/tls/policies.hpp"
#include "reports/svg.hpp"

namespace callready::html {

std::string scalar_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_null()) return "\u2014";
  if (v.is_array()) {
    if (v.empty()) return "(none)";
    std::string out;
    for (const auto& e : v) {
      if (!out.empty()) out += ", ";
      out += e.is_structured() ? e.dump() : scalar_text(e);
    }
    return out;
  }
  return v.dump();
}

namespace {

bool is_scalar_list(const json& v) {
  return v.is_array() && std::none_of(v.begin(), v.end(), [](const json& e) { return e.is_structured(); });
}

void flatten(const json& v, const std::string& key, Table& t) {
  if (v.is_object() && !v.empty()) {
    for (const auto& [k, sub] : v.items()) flatten(sub, key.empty() ? k : key + "." + k, t);
  } else if (v.is_array() && !is_scalar_list(v)) {
    for (std::size_t i = 0; i < v.size(); ++i) flatten(v[i], key + "[" + std::to_string(i) + "]", t);
  } else {
    t.rows.push_back({{key, "mono"}, {scalar_text(v), v.is_boolean() ? "flag" : ""}});
  }
}

Cell flag_cell(const json& v, bool good_when) {
  if (!v.is_boolean()) return {scalar_text(v), "muted"};
  return {v.get<bool>() ? "yes" : "no", v.get<bool>() == good_when ? "good" : "bad"};
}

void dns_view(const json& d, DetailView& out, json& rest) {
  const json& answers = d.value("answers", json::array());
  if (!answers.is_array() || answers.empty()) return;
  Table t;
  t.caption = "Answers";
  if (answers.front().is_object()) {  // SRV, in the order a client tries them
    t.headers = {"Priority", "Weight", "Port", "Target"};
    for (const auto& a : answers)
      t.rows.push_back({{scalar_text(a.value("priority", json())), ""},
                        {scalar_text(a.value("weight", json())), ""},
                        {scalar_text(a.value("port", json())), ""},
                        {scalar_text(a.value("target", json())), "mono"}});
  } else {
    t.headers = {d.value("type", "") == "PTR" ? "Name" : "Address"};
    for (const auto& a : answers) t.rows.push_back({{scalar_text(a), "mono"}});
  }
  out.tables.push_back(std::move(t));
  rest.erase("answers");
}

Table cert_chain_table(const json& chain) {
  Table t;
  t.caption = "Certificate chain as served (leaf first)";
  t.headers = {"#", "Subject", "Issuer", "Expires", "Key"};
  for (std::size_t i = 0; i < chain.size(); ++i) {
    const json& c = chain[i].is_object() ? chain[i] : json::object();
    std::string key = scalar_text(c.value("key_type", json()));
    if (c.contains("key_bits")) key += " " + scalar_text(c["key_bits"]);
    t.rows.push_back({{std::to_string(i), ""},
                      {scalar_text(c.value("subject", json())), "mono"},
                      {scalar_text(c.value("issuer", json())), "mono"},
                      {scalar_text(c.value("not_after", json())), ""},
                      {key, ""}});
  }
  return t;
}

// The matrix is coloured by the cipher policy the check judged against (its
// name is in details.policy); without one, only legacy versions are marked.
void tls_matrix_view(const json& versions, const json& d, DetailView& out) {
  const checks::tls::Policy* policy = nullptr;
  if (d.contains("policy") && d["policy"].is_string())
    policy = checks::tls::find_policy(d["policy"].get<std::string>());
  std::vector<std::string> names;
  for (const auto& [k, _] : versions.items()) names.push_back(k);
  std::sort(names.begin(), names.end());  // tls1.0 < tls1.1 < tls1.2 < tls1.3
  std::vector<svg::TlsColumn> cols;
  std::vector<svg::TlsSuiteRow> rows;
  for (std::size_t c = 0; c < names.size(); ++c) {
    const json& v = versions[names[c]].is_object() ? versions[names[c]] : json::object();
    auto version = checks::tls::version_from_key(names[c]);
    bool supported = v.value("supported", false) == true;
    bool version_allowed =
        policy && version ? std::count(policy->allowed_versions.begin(), policy->allowed_versions.end(), *version) > 0
                          : names[c] != "tls1.0" && names[c] != "tls1.1";
    cols.push_back({names[c], supported, supported && !version_allowed});
    const json& ciphers = v.value("ciphers", json::array());
    if (!ciphers.is_array()) continue;
    for (const auto& s : ciphers) {
      if (!s.is_string()) continue;
      const std::string name = s.get<std::string>();
      auto it = std::find_if(rows.begin(), rows.end(), [&](auto& r) { return r.name == name; });
      if (it == rows.end()) it = rows.insert(rows.end(), {name, {}});
      it->cells.resize(names.size(), svg::SuiteCell::off);
      if (!policy || !version)
        it->cells[c] = svg::SuiteCell::no_policy;
      else
        it->cells[c] =
            version_allowed && (checks::tls::policy_allows(*policy, *version, name) ||
                                std::count(policy->listed_exceptions.begin(), policy->listed_exceptions.end(), name))
                ? svg::SuiteCell::allowed
                : svg::SuiteCell::forbidden;
    }
  }
  std::string caption = "Cipher suites accepted per TLS version";
  if (policy) caption += ", judged by policy " + policy->name + " (" + policy->source + ")";
  out.pictures.push_back({svg::tls_matrix(cols, rows, policy != nullptr), caption});
}

void tls_view(const json& d, DetailView& out, json& rest) {
  const json& versions = d.value("versions", json::object());
  if (versions.is_object() && !versions.empty()) {
    tls_matrix_view(versions, d, out);
    rest.erase("versions");
  }
  const json& cert = d.value("certificate", json::object());
  if (cert.is_object() && !cert.empty()) {
    Table t;
    t.caption = "Certificate";
    json leaf = cert;
    leaf.erase("chain");
    for (const auto& [k, v] : leaf.items()) {
      bool flag = k == "hostname_match" || k == "chain_complete" || k == "trusted";
      t.rows.push_back({{k, "mono"}, flag ? flag_cell(v, true) : Cell{scalar_text(v), ""}});
    }
    out.tables.push_back(std::move(t));
    const json& chain = cert.value("chain", json::array());
    if (chain.is_array() && !chain.empty()) out.tables.push_back(cert_chain_table(chain));
    rest.erase("certificate");
  }
}

void udp_range_view(const json& d, DetailView& out, json& rest) {
  std::vector<svg::PortSpan> spans;
  for (auto [key, state] :
       {std::pair{"open", svg::PortState::open}, std::pair{"blocked", svg::PortState::blocked},
        std::pair{"rejected", svg::PortState::rejected}, std::pair{"untested", svg::PortState::untested}}) {
    const json& list = d.value(key, json::array());
    if (!list.is_array()) continue;
    for (const auto& e : list)
      if (e.is_string())
        if (auto s = svg::parse_port_span(e.get<std::string>(), state)) spans.push_back(*s);
  }
  if (spans.empty()) return;
  out.pictures.push_back({svg::port_strip(spans), "UDP ports per tested range"});
  for (const char* k : {"open", "blocked", "rejected", "untested"}) rest.erase(k);
}

void pmtu_view(const json& d, DetailView& out, json& rest) {
  std::optional<long long> mtu;
  if (d.contains("path_mtu") && d["path_mtu"].is_number_integer()) mtu = d["path_mtu"].get<long long>();
  bool black_hole = d.value("black_hole", false) == true;
  out.pictures.push_back({svg::mtu_bar(mtu, black_hole), "Largest packet that crossed with Don't Fragment set"});
  rest.erase("path_mtu");
  rest.erase("black_hole");
}

std::vector<std::string> message_lines(const json& v) {
  std::vector<std::string> lines;
  auto add_text = [&](const std::string& s) {
    std::size_t start = 0;
    while (start <= s.size()) {
      auto nl = s.find('\n', start);
      std::string line = s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) lines.push_back(line);
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
  };
  if (v.is_string()) add_text(v.get<std::string>());
  if (v.is_array())
    for (const auto& e : v) {
      if (e.is_string()) add_text(e.get<std::string>());
      if (e.is_object())
        lines.push_back(scalar_text(e.value("name", json())) + ": " + scalar_text(e.value("value", json())));
    }
  return lines;
}

// Sent and received SIP lines side by side, aligned on the lines that match
// exactly (longest common subsequence); between two matches, lines pair up
// as "changed" and the rest are "removed" or "added".
Table sip_diff(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<unsigned>> lcs(n + 1, std::vector<unsigned>(m + 1, 0));
  for (std::size_t i = n; i-- > 0;)
    for (std::size_t j = m; j-- > 0;)
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
  Table t;
  t.caption = "SIP message as sent and as it arrived";
  t.headers = {"Sent", "Received"};
  std::vector<std::string> gone, came;
  auto flush = [&] {
    for (std::size_t k = 0; k < std::max(gone.size(), came.size()); ++k) {
      bool l = k < gone.size(), r = k < came.size();
      t.rows.push_back({{l ? gone[k] : "", "mono"}, {r ? came[k] : "", "mono"}});
      t.row_classes.push_back(l && r ? "diff-changed" : l ? "diff-removed" : "diff-added");
    }
    gone.clear();
    came.clear();
  };
  std::size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      flush();
      t.rows.push_back({{a[i], "mono"}, {b[j], "mono"}});
      t.row_classes.push_back("diff-same");
      ++i, ++j;
    } else if (j >= m || (i < n && lcs[i + 1][j] >= lcs[i][j + 1])) {
      gone.push_back(a[i++]);
    } else {
      came.push_back(b[j++]);
    }
  }
  flush();
  return t;
}

// The check reports each compared field (Request-URI, headers, SDP lines such
// as "c=") as sent and as received: one row per field, changed rows marked.
Table sip_field_diff(const json& sent, const json& received) {
  Table t;
  t.caption = "SIP request as sent and as it arrived, field by field";
  t.headers = {"Field", "Sent", "Received"};
  std::vector<std::string> fields;
  for (const json* side : {&sent, &received})
    for (const auto& [k, _] : side->items())
      if (std::find(fields.begin(), fields.end(), k) == fields.end()) fields.push_back(k);
  for (const auto& f : fields) {
    bool l = sent.contains(f), r = received.contains(f);
    std::string a = l ? scalar_text(sent[f]) : "", b = r ? scalar_text(received[f]) : "";
    t.rows.push_back({{f, "mono"}, {a, "mono pre"}, {b, "mono pre"}});
    t.row_classes.push_back(!l ? "diff-added" : !r ? "diff-removed" : a == b ? "diff-same" : "diff-changed");
  }
  return t;
}

void sip_alg_view(const json& d, DetailView& out, json& rest) {
  const json& sent = d.value("sent", json());
  const json& received = d.value("received", json());
  if (sent.is_object() || received.is_object()) {
    out.tables.push_back(
        sip_field_diff(sent.is_object() ? sent : json::object(), received.is_object() ? received : json::object()));
  } else {
    auto a = message_lines(sent), b = message_lines(received);
    if (a.empty() && b.empty()) return;
    out.tables.push_back(sip_diff(a, b));
  }
  rest.erase("sent");
  rest.erase("received");
}

}  // namespace

Table key_value_table(const json& details, std::string caption) {
  Table t;
  t.caption = std::move(caption);
  if (details.is_object())
    for (const auto& [k, v] : details.items()) flatten(v, k, t);
  else if (!details.is_null())
    flatten(details, "value", t);
  return t;
}

DetailView detail_view(const CheckRecord& check) {
  using View = void (*)(const json&, DetailView&, json&);
  static const std::pair<const char*, View> views[] = {{"dns", dns_view},
                                                       {"tls", tls_view},
                                                       {"udp_range", udp_range_view},
                                                       {"pmtu", pmtu_view},
                                                       {"sip_alg", sip_alg_view}};
  DetailView out;
  json rest = check.details;
  if (check.details.is_object())
    for (auto [kind, view] : views)
      if (check.kind == kind) view(check.details, out, rest);
  Table kv = key_value_table(rest, "Measurements");
  if (!kv.rows.empty()) out.tables.insert(out.tables.begin(), std::move(kv));
  return out;
}

}  // namespace callready::html
