// The `sip_alg` params and the report's `details`, written from the result.
#include "checks/sip_alg/sip_alg_result.hpp"

#include <fmt/format.h>

#include <cmath>

#include "checks/common/silence.hpp"
#include "probe/net/host_port.hpp"

namespace callready::checks::sip_alg {
namespace {

using nlohmann::json;

// The outcome as the details name it: a failed step is "<operation>_failed".
std::string outcome_text(const Exchange& e) {
  if (e.outcome == Outcome::failed && e.failure) return std::string(to_string(e.failure->operation)) + "_failed";
  return to_string(e.outcome);
}

json exchange_json(const Exchange& e) {
  json j = {{"transport", e.transport},
            {"source_port", e.requested_port ? json(e.requested_port) : json("ephemeral")},
            {"local", e.local},
            {"method", e.method},
            {"outcome", outcome_text(e)}};
  if (e.failure) {
    j["error"] = e.failure->message;
    j["operation"] = e.failure->operation;
  }
  if (e.status) j["status"] = e.status, j["rtt_ms"] = std::round(e.rtt_ms * 10) / 10;
  write_silence(j, e.silence);
  if (e.diff) {
    json changed = json::array();
    json changes = json::object();
    for (const auto& c : e.diff->changes) {
      changed.push_back(c.field);
      changes[c.field] = {{"sent", c.sent}, {"received", c.received}};
    }
    j["rewritten"] = changed;
    j["changes"] = changes;
    j["observed_source"] = net::format_host_port(e.observed_address, e.observed_port);
    j["response_via_received"] = e.response_received.value_or("");
    j["response_via_rewritten"] = e.via_rewritten();
  }
  return j;
}

}  // namespace

Params Params::parse(ParamReader& r) {
  Params p;
  p.host = r.string("host");
  p.port = r.port_or("port", 5060);
  p.transport = r.choice("transport", {"udp", "tcp", "both"}, "udp");
  p.source_port = static_cast<std::uint16_t>(r.integer_or("source_port", 0, 65535, 5060));
  p.methods = r.string_list_or("methods", {"INVITE", "REGISTER"});
  if (p.methods.empty()) r.error("methods", "expected at least one of INVITE, REGISTER, OPTIONS");
  for (std::size_t i = 0; i < p.methods.size(); ++i)
    if (p.methods[i] != "INVITE" && p.methods[i] != "REGISTER" && p.methods[i] != "OPTIONS")
      r.error(fmt::format("methods[{}]", i), "expected INVITE, REGISTER or OPTIONS, got \"" + p.methods[i] + "\"");
  p.timeout_ms = r.integer_or("timeout_ms_per_request", 100, 30000, 1500);
  return p;
}

std::string Params::target() const { return net::format_host_port(host, port) + "/" + transport; }

void to_json(json& j, const Result& r) {
  auto a = analyse(r);
  j = {{"host", r.host},
       {"port", r.port},
       {"transport", r.transport},
       {"alg_detected", a.detected},
       {"rewritten", a.rewritten},
       {"tls", "not probed: an ALG cannot read SIP inside TLS (5061), so it neither rewrites nor shows there"}};
  if (r.unresolved) return;
  j["address"] = r.address;
  json attempts = json::array();
  for (const auto& e : r.exchanges) attempts.push_back(exchange_json(e));
  j["attempts"] = attempts;
  j["response_via_rewritten"] = !a.via_rewritten.empty();
  json dropped = json::array();
  for (const auto* e : a.lost) dropped.push_back(e->describe());
  j["dropped"] = dropped;
  // The first request given up for silence says how long silence was waited
  // out, as the tcp kind writes it (each attempt carries its own).
  for (const auto& e : r.exchanges)
    if (e.silence) {
      write_silence(j, e.silence);
      break;
    }
  if (a.shown) {
    j["sent"] = a.shown->diff->sent;
    j["received"] = a.shown->diff->received;
    j["fields"] = a.shown->diff->order;
    j["observed_source"] = net::format_host_port(a.shown->observed_address, a.shown->observed_port);
    j["shown_attempt"] = a.shown->describe();
  }
}

}  // namespace callready::checks::sip_alg
