#include "checks/dscp/dscp_check.hpp"

#include <fmt/format.h>
#include <openssl/rand.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <cctype>
#include <stdexcept>

#include "checks/common/echo_client.hpp"
#include "checks/common/responder_step.hpp"
#include "checks/dscp/dscp_metrics.hpp"
#include "probe/net/errors.hpp"
#include "probe/net/host_port.hpp"

namespace callready::checks {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;

namespace {

constexpr Millis kPacing{5};        // between two UDP probes of a class
constexpr Millis kReplyWait{1000};  // after the last probe, for late replies
constexpr Millis kConnectWait{2000};

std::uint64_t random_session() {
  std::uint64_t s = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&s), sizeof s);
  return s;
}

// Source ports to try, in order: the range from a random offset (two checks
// running at once rarely collide), or one ephemeral port (0).
std::vector<std::uint16_t> source_ports(const std::optional<net::PortRange>& range) {
  if (!range) return {0};
  std::vector<std::uint16_t> ports;
  unsigned span = range->last - range->first + 1u;
  unsigned start = static_cast<unsigned>(random_session() % span);
  for (unsigned i = 0; i < span; ++i) ports.push_back(static_cast<std::uint16_t>(range->first + (start + i) % span));
  return ports;
}

void count(DscpDirection& d, std::uint8_t tos, std::uint8_t sent_tos) {
  ++d.received[tos >> 2];
  if ((tos & 3) != (sent_tos & 3)) ++d.ecn_changed;
}

// One UDP class: `packets` probes from one source port, each asking for a reply marked like it.
asio::awaitable<std::optional<CheckError>> measure_udp(CheckContext& ctx, const DscpParams& p,
                                                       const DscpClassParam& cls, DscpClassResult& c,
                                                       udp::endpoint to) {
  std::uint8_t tos = static_cast<std::uint8_t>(c.dscp << 2);
  EchoSocket socket(ctx.executor);
  EchoSocketOptions opts;
  opts.token = ctx.settings.token;
  opts.tos = tos;
  std::optional<CheckError> bind_error;
  for (auto port : source_ports(cls.shape.source_ports)) {
    if (port != 0)
      opts.local = udp::endpoint(to.protocol() == udp::v6() ? asio::ip::address(asio::ip::address_v6::any())
                                                            : asio::ip::address(asio::ip::address_v4::any()),
                                 port);
    bind_error = socket.open(to.protocol(), opts);
    if (!bind_error) break;
  }
  if (bind_error) co_return bind_error;
  c.source_port = socket.local_endpoint().port();
  std::uint64_t session = random_session();
  Timer pace(ctx.executor);
  int icmp = 0;
  std::string icmp_text;
  auto take = [&](const EchoEvent& ev) {
    if (ev.kind == EchoEvent::Kind::icmp) {
      if (ev.icmp.destination == to) {
        ++icmp;
        icmp_text = ev.icmp.describe();
      }
      return;
    }
    if (ev.from != to || ev.reply.session != session) return;
    ++c.replies;
    count(c.upstream, ev.reply.seen.tos, tos);
    if (ev.reply.marks.reply_tos)
      count(c.downstream, ev.tos, tos);
    else
      c.downstream.unreadable = "the responder did not mark its replies";
  };
  auto phase_end = Clock::now() + ctx.budget(Millis(kPacing * p.packets + kReplyWait));
  // An ICMP error for the destination ends the class at once: a closed or
  // rejecting port is told within one round trip, not after every probe.
  for (int i = 0; i < p.packets && icmp == 0 && Clock::now() < phase_end; ++i) {
    echo::Request req;
    req.session = session;
    req.sequence = static_cast<std::uint32_t>(i);
    req.reply_tos = tos;
    if (!socket.send(to, req)) ++c.probes_sent;
    pace.expires_after(kPacing);
    co_await pace.async_wait(asio::use_awaitable);
    // Drain what is already there without waiting.
    while (auto ev = co_await socket.receive(Clock::now())) take(*ev);
  }
  while (c.replies < c.probes_sent && icmp == 0) {
    auto ev = co_await socket.receive(phase_end);
    if (!ev) break;
    take(*ev);
  }
  if (c.replies == 0) {
    c.failure_operation = Operation::receive;
    c.failure = icmp > 0 ? fmt::format("{} of {} probes answered by {}", icmp, c.probes_sent, icmp_text)
                         : fmt::format("none of {} probes was answered", c.probes_sent);
  }
  co_return std::nullopt;
}

// Is the responder behind `to` an older one (echo v1 only)? A v1 and a v2
// probe sent together: only the v1 one answered says so (a path that was
// merely slow or lossy answers both, or neither).
asio::awaitable<bool> answers_v1_only(CheckContext& ctx, udp::endpoint to) {
  EchoSocket socket(ctx.executor);
  EchoSocketOptions opts;
  opts.token = ctx.settings.token;
  if (socket.open(to.protocol(), opts)) co_return false;
  std::uint64_t session = random_session();
  bool v1 = false, v2 = false;
  auto deadline = Clock::now() + ctx.budget(kReplyWait);
  for (std::uint32_t round = 0; round < 3; ++round) {
    echo::Request old_style;
    old_style.session = session;
    old_style.sequence = 2 * round;
    echo::Request marked = old_style;
    marked.sequence = 2 * round + 1;
    marked.reply_tos = 0;
    socket.send(to, old_style);
    socket.send(to, marked);
  }
  while (!(v1 && v2)) {
    auto ev = co_await socket.receive(deadline);
    if (!ev) break;
    if (ev->kind != EchoEvent::Kind::reply || ev->from != to || ev->reply.session != session) continue;
    (ev->reply.sequence % 2 == 0 ? v1 : v2) = true;
  }
  co_return v1 && !v2;
}

// One TCP class: `tcp_connections` connections (each SYN an upstream sample),
// each carrying its share of the probes one at a time (downstream samples).
asio::awaitable<std::optional<CheckError>> measure_tcp(CheckContext& ctx, const DscpParams& p,
                                                       const DscpClassParam& cls, DscpClassResult& c, tcp::endpoint to,
                                                       bool& old_responder) {
  std::uint8_t tos = static_cast<std::uint8_t>(c.dscp << 2);
  int per_connection = std::max(1, p.packets / std::max(1, p.tcp_connections));
  auto ports = source_ports(cls.shape.source_ports);
  std::size_t next_port = 0;
  std::uint64_t session = random_session();
  int connected = 0, closed_unanswered = 0;
  auto phase_end = Clock::now() + ctx.budget(Millis(kConnectWait * 2 + kReplyWait * 2));
  for (int k = 0; k < p.tcp_connections && Clock::now() < phase_end; ++k) {
    EchoStream stream(ctx.executor);
    EchoStreamOptions opts;
    opts.token = ctx.settings.token;
    opts.tos = tos;
    opts.read_tos = true;
    opts.reuse_address = true;
    EchoStream::ConnectResult result;
    // A source port in use (or still in TIME_WAIT toward this port) is skipped.
    bool tried = false;
    while (next_port < ports.size()) {
      auto port = ports[next_port];
      if (port != 0) {
        ++next_port;
        opts.local = tcp::endpoint(to.address().is_v6() ? asio::ip::address(asio::ip::address_v6::any())
                                                        : asio::ip::address(asio::ip::address_v4::any()),
                                   port);
      }
      auto connecting = stream.connect(to, opts, std::min(kConnectWait, ctx.budget(kConnectWait)));
      result = co_await std::move(connecting);
      tried = true;
      bool port_busy = (result.error && port != 0) || result.connect_error == asio::error::address_in_use ||
                       result.connect_error == boost::system::errc::address_not_available;
      if (!port_busy || port == 0) break;
    }
    if (!tried) break;  // every source port of the range used
    if (result.error) co_return result.error;
    if (result.connect_error) {
      c.failure_operation = Operation::connect;
      c.failure = fmt::format("connect to {} failed: {}", net::format_host_port(to.address(), to.port()),
                              net::to_string(net::classify(result.connect_error)));
      if (net::classify(result.connect_error) == net::NetFailure::local)
        co_return net::local_error(Operation::connect, "TCP " + net::format_host_port(to.address(), to.port()),
                                   result.connect_error);
      // A port that let a SYN go unanswered for its whole wait stays silent:
      // more connections would only wait again.
      if (result.connect_error == asio::error::timed_out) break;
      continue;
    }
    ++connected;
    if (!c.source_port) c.source_port = stream.local_endpoint().port();
    int answered = 0;
    for (int i = 0; i < per_connection; ++i) {
      echo::Request req;
      req.session = session;
      req.sequence = static_cast<std::uint32_t>(k * per_connection + i);
      req.reply_tos = tos;
      auto sending = stream.send(req);
      if (co_await std::move(sending)) break;
      ++c.probes_sent;
      auto receiving = stream.receive(std::min(phase_end, Clock::now() + kReplyWait));
      auto reply = co_await std::move(receiving);
      if (!reply) break;
      ++c.replies;
      if (answered++ == 0) count(c.upstream, reply->reply.seen.tos, tos);  // the SYN's, once per connection
      if (!reply->reply.marks.reply_tos)
        c.downstream.unreadable = "the responder did not mark its replies";
      else if (reply->tos)
        count(c.downstream, *reply->tos, tos);
      else
        c.downstream.unreadable = to.address().is_v6()
                                      ? "the traffic class of TCP segments could not be read"
                                      : "reading the TOS of arriving IPv4 TCP segments needs CAP_NET_RAW (run as root)";
    }
    if (answered == 0 &&
        (stream.last_error() == asio::error::eof || stream.last_error() == asio::error::connection_reset))
      ++closed_unanswered;
    // Abortive close: no TIME_WAIT left on a source port the next run wants.
    boost::system::error_code ec;
    stream.socket().set_option(asio::socket_base::linger(true, 0), ec);
    stream.close();
  }
  // Every connection accepted and closed without a framed reply: a responder
  // that only accepts (an older version), not a network that re-marks.
  old_responder = connected > 0 && c.replies == 0 && closed_unanswered == connected;
  if (c.replies == 0 && connected > 0 && c.failure.empty()) {
    c.failure_operation = Operation::receive;
    c.failure = fmt::format("{} connections, no framed echo reply", connected);
  }
  co_return std::nullopt;
}

// The responder at one probed address, asked over that address's family (a
// responder with a token answers keyed probes only from a client address that
// said hello to its control port, and says what it serves there); the set-up
// error when it cannot be asked or does not serve every class's port.
asio::awaitable<std::optional<CheckError>> ask_at(CheckContext& ctx, const DscpParams& p, const ResponderStep& step,
                                                  asio::ip::address address) {
  net::ResponderInfo info = step.info;
  if (address != step.address()) {
    auto asking = ctx.responder.ask(address, p.control_port, std::nullopt, ctx.budget(Millis(3000)));
    info = co_await std::move(asking);
  }
  for (const auto& cls : p.classes) {
    const char* service = cls.shape.transport == "tcp" ? "tcp_accept" : "udp_echo";
    if (auto setup = net::setup_error(info, service, cls.shape.port)) co_return setup;
  }
  co_return std::nullopt;
}

asio::awaitable<Measured<DscpResult>> measure_dscp(DscpParams p, CheckContext& ctx) {
  Measured<DscpResult> m;
  auto& out = m.result;
  out.host = p.host;
  auto asking = resolve_and_ask(ctx, p.host, p.control_port);  // named: GCC 12 and co_await arguments
  auto step = co_await std::move(asking);
  if (!step.resolved()) {
    out.unresolved = std::move(step.lookup);
    co_return m;
  }
  std::vector<asio::ip::address> targets;
  for (const char* family : {"ipv4", "ipv6"}) {
    bool v6 = family == std::string("ipv6");
    if (p.family != "both" && p.family != family) continue;
    auto it = std::find_if(step.lookup.addresses.begin(), step.lookup.addresses.end(),
                           [&](const auto& a) { return a.is_v6() == v6; });
    if (it == step.lookup.addresses.end())
      out.skipped.push_back(fmt::format("{}: {} has no {} address", family, p.host, v6 ? "IPv6" : "IPv4"));
    else
      targets.push_back(*it);
  }
  if (targets.empty()) {
    m.error = CheckError{ErrorReason::bad_params, Operation::resolve,
                         fmt::format("{} has no {} address", p.host, p.family == "ipv6" ? "IPv6" : "IPv4")};
    co_return m;
  }
  // A family the responder cannot be asked over (its control port listens on
  // IPv4 only) is left out and said so, as long as another family is tested.
  std::vector<asio::ip::address> ready;
  std::optional<CheckError> setup;
  for (const auto& address : targets) {
    auto asking = ask_at(ctx, p, step, address);
    auto failed = co_await std::move(asking);
    if (!failed) {
      ready.push_back(address);
      continue;
    }
    out.not_asked.push_back(fmt::format("{}: {}", address.is_v6() ? "ipv6" : "ipv4", failed->message));
    if (!setup) setup = std::move(failed);
  }
  if (ready.empty()) {
    m.error = std::move(setup);
    co_return m;
  }
  for (const auto& address : ready) {
    for (const auto& cls : p.classes) {
      DscpClassResult c;
      c.name = cls.name;
      c.dscp = cls.dscp;
      c.transport = cls.shape.transport;
      c.family = address.is_v6() ? "ipv6" : "ipv4";
      c.address = address.to_string();
      c.port = cls.shape.port;
      if (c.transport == "udp") {
        udp::endpoint to(address, c.port);
        auto measuring = measure_udp(ctx, p, cls, c, to);
        if (auto err = co_await std::move(measuring)) {
          m.error = std::move(err);
          co_return m;
        }
        if (c.replies == 0) {
          auto checking = answers_v1_only(ctx, to);
          if (co_await std::move(checking)) {
            m.error = CheckError{ErrorReason::setup, Operation::receive,
                                 fmt::format("the responder at {} answers echo probes but not marked ones (echo v2): "
                                             "it is an older version; upgrade it",
                                             net::format_host_port(address, c.port))};
            co_return m;
          }
        }
      } else {
        tcp::endpoint to(address, c.port);
        bool old_responder = false;
        auto measuring = measure_tcp(ctx, p, cls, c, to, old_responder);
        if (auto err = co_await std::move(measuring)) {
          m.error = std::move(err);
          co_return m;
        }
        if (old_responder) {
          m.error = CheckError{ErrorReason::setup, Operation::receive,
                               fmt::format("the responder at {} accepts TCP but answers no framed echo probe: it is "
                                           "an older version; upgrade it",
                                           net::format_host_port(address, c.port))};
          co_return m;
        }
      }
      out.classes.push_back(std::move(c));
    }
  }
  co_return m;
}

std::string upper(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

}  // namespace

namespace {
const std::map<std::string, int>& class_names() {
  static const std::map<std::string, int> names = {
      {"EF", 46},   {"VA", 44},   {"DF", 0},    {"BE", 0},    {"LE", 1},    {"CS0", 0},   {"CS1", 8},
      {"CS2", 16},  {"CS3", 24},  {"CS4", 32},  {"CS5", 40},  {"CS6", 48},  {"CS7", 56},  {"AF11", 10},
      {"AF12", 12}, {"AF13", 14}, {"AF21", 18}, {"AF22", 20}, {"AF23", 22}, {"AF31", 26}, {"AF32", 28},
      {"AF33", 30}, {"AF41", 34}, {"AF42", 36}, {"AF43", 38}};
  return names;
}
}  // namespace

std::string dscp_class_name(long long value) {
  if (value == 0) return "CS0";
  for (const auto& [name, dscp] : class_names())
    if (dscp == value && name != "BE" && name != "DF") return name;
  return std::to_string(value);  // 0-63 without a name stays a number; outside, dscp_of_class rejects it
}

std::optional<int> dscp_of_class(const std::string& raw) {
  std::string name = upper(raw);
  const auto& names = class_names();
  if (auto it = names.find(name); it != names.end()) return it->second;
  if (!name.empty() && name.size() <= 2 && std::all_of(name.begin(), name.end(), ::isdigit)) {
    int v = std::stoi(name);
    if (v <= 63) return v;
  }
  return std::nullopt;
}

DscpParams DscpParams::parse(ParamReader& r) {
  DscpParams p;
  p.host = r.string("host");
  // Names or DSCP values (a profile's shared data holds values); a value
  // with a standard name is reported by that name.
  std::vector<std::string> names = {"EF", "AF41", "CS3", "CS0"};
  if (const auto* j = r.raw("classes")) {
    names.clear();
    auto one = [&](const nlohmann::json& e, const std::string& path) {
      if (e.is_string())
        names.push_back(e.get<std::string>());
      else if (e.is_number_integer())
        names.push_back(dscp_class_name(e.get<long long>()));
      else
        r.error(path, "expected a class name or a DSCP value 0-63");
    };
    if (j->is_array())
      for (std::size_t i = 0; i < j->size(); ++i) one((*j)[i], fmt::format("classes[{}]", i));
    else
      one(*j, "classes");
    if (names.empty() && r.ok()) r.error("classes", "expected at least one class");
  }
  p.family = r.choice("family", {"ipv4", "ipv6", "both"}, "both");
  p.packets = static_cast<int>(r.integer_or("packets", 10, 200, 50));
  p.tcp_connections = static_cast<int>(r.integer_or("tcp_connections", 1, 50, 10));
  auto udp_port = r.port_or("udp_port", 5004);
  auto tcp_port = r.port_or("tcp_port", 5060);
  if (auto port = r.opt_integer("control_port", 1, 65535)) p.control_port = static_cast<std::uint16_t>(*port);
  p.remark_severity = r.choice("remark_severity", {"warning", "critical"}, "warning") == "critical" ? Severity::critical
                                                                                                    : Severity::warning;
  // shapes: {"<class>": {"transport": "udp"|"tcp", "port": N, "source_ports": "A-B"}}
  std::map<std::string, DscpShape> shapes;
  if (const auto* j = r.raw("shapes")) {
    if (!j->is_object())
      r.error("shapes", "expected an object: class name -> {transport, port, source_ports}");
    else
      for (const auto& [name, shape] : j->items()) {
        std::string path = "shapes." + name;
        ParamReader sr(shape);
        DscpShape s;
        s.transport = sr.choice("transport", {"udp", "tcp"}, "udp");
        s.port = sr.port("port");
        if (auto text = sr.opt_string("source_ports")) {
          try {
            auto ranges = net::parse_port_ranges(*text);
            if (ranges.size() != 1) throw std::invalid_argument("expected one range A-B");
            s.source_ports = ranges.front();
          } catch (const std::exception& e) {
            sr.error("source_ports", e.what());
          }
        }
        sr.finish();
        for (const auto& e : sr.errors()) r.error(path + "." + e.path, e.message);
        shapes[upper(name)] = s;
      }
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    auto dscp = dscp_of_class(names[i]);
    if (!dscp) {
      r.error(fmt::format("classes[{}]", i),
              fmt::format("unknown class \"{}\" (a name such as EF, AF41, CS3, or a DSCP value 0-63)", names[i]));
      continue;
    }
    DscpClassParam c;
    c.name = upper(names[i]);
    c.dscp = *dscp;
    if (auto it = shapes.find(c.name); it != shapes.end()) {
      c.shape = it->second;
    } else {
      // Class selectors (signalling) over TCP, the rest (media) over UDP.
      bool selector = c.name.starts_with("CS");
      c.shape.transport = selector ? "tcp" : "udp";
      c.shape.port = selector ? tcp_port : udp_port;
    }
    p.classes.push_back(std::move(c));
  }
  for (const auto& [name, shape] : shapes)
    if (std::none_of(p.classes.begin(), p.classes.end(), [&](const auto& c) { return c.name == name; }))
      r.error("shapes." + name, "a shape for a class that is not in `classes`");
  return p;
}

std::string DscpParams::target() const { return host; }

CheckKind dscp_check_kind() {
  return make_check_kind<DscpParams, DscpResult>("dscp", Millis(60000),
                                                 {&measure_dscp, &judge_dscp, &dscp_view, &dscp_metrics});
}

}  // namespace callready::checks
