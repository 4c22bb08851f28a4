// The verdict of the `sip_alg` kind, from the measured exchanges alone.
// Three signals of an ALG: (1) a request arrived changed (the mirror returns
// it as the responder received it); (2) the response's Via ;received= (the
// source the responder saw) arrived changed, rewritten on the way back; (3)
// some requests vanished while others on the same path were answered (ALGs
// drop what they cannot parse, or an INVITE whose media port they track).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <set>

#include "checks/sip_alg/sip_alg_result.hpp"

namespace callready::checks::sip_alg {
namespace {

constexpr const char* kDisableAlg =
    "Disable SIP ALG / SIP inspection (\"SIP helper\", \"SIP fixup\", \"SIP transformations\") on the router or "
    "firewall between this site and the SIP servers";

std::vector<std::string> described(const std::vector<const Exchange*>& list) {
  std::vector<std::string> out;
  for (const auto* e : list) out.push_back(e->describe());
  return out;
}

}  // namespace

const char* to_string(Outcome o) {
  switch (o) {
    case Outcome::mirrored:
      return "mirrored";
    case Outcome::no_mirror:
      return "no_mirror";
    case Outcome::no_response:
      return "no_response";
    case Outcome::refused:
      return "refused";
    case Outcome::source_port_busy:
      return "source_port_busy";
    case Outcome::failed:
      break;
  }
  return "failed";
}

std::string Exchange::describe() const {
  return fmt::format("{} over {} from {}", method, transport,
                     requested_port ? "port " + std::to_string(requested_port) : std::string("an ephemeral port"));
}

bool Exchange::via_rewritten() const {
  if (outcome != Outcome::mirrored) return false;
  if (response_received.value_or("") != observed_address) return true;
  return response_rport && !response_rport->empty() && *response_rport != std::to_string(observed_port);
}

Analysis analyse(const Result& r) {
  Analysis a;
  for (const auto& e : r.exchanges) {
    if (e.answered()) a.answered.push_back(&e);
    if (e.outcome == Outcome::no_response) a.lost.push_back(&e);
    if (e.via_rewritten()) a.via_rewritten.push_back(&e);
    if (!e.diff) continue;
    for (const auto& c : e.diff->changes)
      if (std::find(a.rewritten.begin(), a.rewritten.end(), c.field) == a.rewritten.end())
        a.rewritten.push_back(c.field);
    if (!a.shown || (a.shown->diff->changes.empty() && !e.diff->changes.empty())) a.shown = &e;
  }
  a.selective_drop = !a.lost.empty() && !a.answered.empty();
  a.detected = !a.rewritten.empty() || !a.via_rewritten.empty() || a.selective_drop;
  return a;
}

Judgement judge(const Result& r, const Params& p) {
  Judgement j;
  if (r.unresolved) {
    return checks::unresolved_judgement("sip_alg", *r.unresolved, "test for a SIP ALG", Severity::warning);
  }
  auto a = analyse(r);
  if (!a.rewritten.empty())
    j.findings.push_back(
        {Severity::critical, "sip_alg.detected",
         fmt::format("A SIP ALG on the path rewrote the SIP messages: {} arrived changed (first seen on {}). Rewritten "
                     "signalling breaks registration, NAT traversal and media of calls.",
                     fmt::join(a.rewritten, ", "), a.shown ? a.shown->describe() : std::string("a request")),
         kDisableAlg, ""});
  if (!a.via_rewritten.empty()) {
    const auto& e = *a.via_rewritten.front();
    bool port_only = e.response_received.value_or("") == e.observed_address;
    j.findings.push_back(
        {Severity::critical, "sip_alg.response_rewritten",
         port_only ? fmt::format("The responder answered with Via rport={} (the port it saw), but the answer arrived "
                                 "with rport={}: a SIP ALG rewrote the response on its way back ({}).",
                                 e.observed_port, e.response_rport.value_or(""), e.describe())
                   : fmt::format(
                         "The responder answered with Via received={} (the address it saw), but the answer "
                         "arrived with {}: a SIP ALG rewrote the response on its way back ({}).",
                         e.observed_address,
                         e.response_received ? "received=" + *e.response_received : std::string("no received= at all"),
                         e.describe()),
         kDisableAlg, ""});
  }
  if (a.selective_drop)
    j.findings.push_back({Severity::critical, "sip_alg.dropped",
                          fmt::format("{} went unanswered while {} got through: something on the path (typically a "
                                      "SIP ALG that cannot parse or track the message) silently drops SIP.",
                                      fmt::join(described(a.lost), "; "), a.answered.front()->describe()),
                          kDisableAlg, "", Operation::receive});
  std::set<std::pair<std::string, std::uint16_t>> busy;  // one finding per socket, not per method
  for (const auto& e : r.exchanges)
    if (e.outcome == Outcome::source_port_busy && busy.insert({e.transport, e.requested_port}).second)
      j.findings.push_back({Severity::info, "sip_alg.source_port_busy",
                            fmt::format("Source port {} is in use on this machine (a softphone?); {} from it was "
                                        "not tested",
                                        e.requested_port, e.transport),
                            "Close the application holding the port to also test from it", "", Operation::bind});

  if (a.answered.empty()) {
    auto refused = std::find_if(r.exchanges.begin(), r.exchanges.end(),
                                [](const Exchange& e) { return e.outcome == Outcome::refused; });
    auto failed =
        std::find_if(r.exchanges.begin(), r.exchanges.end(), [](const Exchange& e) { return e.failure.has_value(); });
    const Exchange* first = refused != r.exchanges.end() ? &*refused : failed != r.exchanges.end() ? &*failed : nullptr;
    Operation op = first && first->failure ? first->failure->operation : Operation::receive;
    std::string what = refused != r.exchanges.end() ? "refused the requests (a firewall REJECT, or nothing listening)"
                                                    : "did not answer (SIP blocked, or dropped by an ALG)";
    if (first && first->failure && refused == r.exchanges.end()) what += ": " + first->failure->message;
    if (!first && !a.lost.empty() && a.lost.front()->silence) {
      const auto& w = *a.lost.front()->silence;
      what += w.basis == net::WaitBasis::rtt && w.rtt_ms
                  ? fmt::format(" within {} ms (from the {:.1f} ms RTT this scan measured to it)", w.wait.count(),
                                *w.rtt_ms)
                  : fmt::format(" within {} ms", w.wait.count());
    }
    j.summary = fmt::format("no answer from the SIP mirror at {}; SIP ALG presence unknown", p.target());
    j.findings.push_back(
        {Severity::warning, refused != r.exchanges.end() ? "sip_alg.refused" : "sip_alg.no_answer",
         fmt::format("The SIP mirror at {} {}: cannot tell whether a SIP ALG is on the path", p.target(), what),
         fmt::format("Allow SIP (UDP and TCP {}) from this site to the responder", p.port), "", op, true});
  } else if (a.detected) {
    j.summary = a.rewritten.empty() ? fmt::format("SIP ALG detected on the path to {}", p.target())
                                    : fmt::format("SIP ALG detected: {} rewritten", fmt::join(a.rewritten, ", "));
  } else {
    auto mirrored = std::count_if(a.answered.begin(), a.answered.end(),
                                  [](const Exchange* e) { return e->outcome == Outcome::mirrored; });
    j.summary = mirrored ? fmt::format("no SIP ALG: {} request(s) over {} arrived unchanged", mirrored, p.transport)
                         : fmt::format("no SIP ALG seen: {} request(s) over {} answered, none with its copy to compare",
                                       a.answered.size(), p.transport);
  }
  return j;
}

}  // namespace callready::checks::sip_alg
