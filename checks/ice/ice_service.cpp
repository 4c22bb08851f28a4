#include "checks/ice/ice_service.hpp"

#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/udp.hpp>
#include <list>

#include "checks/ice/ice_agent.hpp"
#include "probe/net/host_port.hpp"

namespace callready::checks {

namespace asio = boost::asio;

namespace {

constexpr std::size_t kMaxAgents = 8;
constexpr Millis kGatherCap(2500);  // inside the control session's 5 s bound
constexpr auto kAgentLifetime = std::chrono::seconds(30);

// "HOST:PORT" with HOST resolved once at start-up (libnice wants an address).
std::optional<std::pair<std::string, std::uint16_t>> resolve_server(const std::string& text, std::uint16_t default_port,
                                                                    std::string& error) {
  auto hp = net::parse_host_port(text);
  if (!hp) {
    error = fmt::format("\"{}\": expected HOST:PORT", text);
    return std::nullopt;
  }
  asio::io_context io;
  asio::ip::udp::resolver resolver(io);
  boost::system::error_code ec;
  auto results = resolver.resolve(hp->host, std::to_string(hp->port.value_or(default_port)), ec);
  if (ec || results.empty()) {
    error = fmt::format("\"{}\": {}", hp->host, ec ? ec.message() : "no address");
    return std::nullopt;
  }
  return std::pair{results.begin()->endpoint().address().to_string(), hp->port.value_or(default_port)};
}

struct Session {
  std::shared_ptr<ice::Agent> agent;
  Clock::time_point expires;
};

class IceService : public respond::RunningService {
 public:
  IceService(respond::ServiceHost& host, ice::AgentConfig base) : host_(host), base_(std::move(base)) {}
  ~IceService() override { stop(); }

  void request(const nlohmann::json& request, const std::string& peer, respond::ServiceReply reply) override {
    std::string why;
    auto remote = ice::from_message(request.value("description", nlohmann::json()), &why);
    if (!remote) {
      host_.log("warn", "ice: " + peer + " sent a malformed description: " + why);
      reply({{"error", "bad_request"}, {"message", why}});
      return;
    }
    if (sessions_.size() >= kMaxAgents) {
      reply({{"error", "busy"}, {"message", fmt::format("{} ICE agents are running", kMaxAgents)}});
      return;
    }
    auto config = base_;
    config.ice_tcp = request.value("ice_tcp", false);
    if (auto a = asio::ip::make_address(peer); a.is_loopback()) config.local_addresses = {peer};
    if (config.local_addresses.empty() && host_.options.bind_address != "0.0.0.0")
      config.local_addresses = {host_.options.bind_address};
    auto agent = ice::Agent::start(*glib_, host_.io.get_executor(), std::move(config));
    sessions_.push_back({agent, Clock::now() + kAgentLifetime});
    ++served_;
    asio::co_spawn(host_.io, answer(agent, std::move(*remote), std::move(reply)), asio::detached);
  }

  void housekeeping(Clock::time_point now) override {
    sessions_.remove_if([now](const Session& s) { return s.expires <= now; });
  }

  void stop() override {
    // An answer still gathering holds its agent too: release every agent now,
    // while the GLib thread runs, so none calls into it once it is gone.
    for (auto& s : sessions_) s.agent->close();
    sessions_.clear();
    glib_.reset();  // joins the GLib thread after the agents' releases
  }

  std::string summary() const override { return fmt::format("{} ICE sessions", served_); }

 private:
  static asio::awaitable<void> answer(std::shared_ptr<ice::Agent> agent, ice::Description remote,
                                      respond::ServiceReply reply) {
    auto started = Clock::now();
    bool complete = co_await agent->gather_until(started + kGatherCap);
    if (!agent->state().error.empty()) {
      reply({{"error", "agent"}, {"message", agent->state().error}});
      co_return;
    }
    agent->set_remote(remote);
    auto gathered = std::chrono::duration_cast<Millis>(Clock::now() - started).count();
    reply({{"description", ice::to_message(agent->local_description())},
           {"gathering_ms", gathered},
           {"gathering_complete", complete}});
  }

  respond::ServiceHost& host_;
  ice::AgentConfig base_;
  std::unique_ptr<ice::GlibThread> glib_ = std::make_unique<ice::GlibThread>();
  std::list<Session> sessions_;
  std::size_t served_ = 0;
};

// The responder's agent settings from --ice-stun and --ice-turn*; "" or what is wrong.
std::string base_config(const respond::ResponderOptions& o, ice::AgentConfig& config) {
  auto setting = [&o](const char* flag) {
    auto it = o.settings.find(flag);
    return it == o.settings.end() ? std::string() : it->second;
  };
  config.controlling = false;
  config.echo = true;
  std::string error;
  if (auto stun = setting("--ice-stun"); !stun.empty()) {
    config.stun = resolve_server(stun, 3478, error);
    if (!config.stun) return "--ice-stun " + error;
  }
  if (auto turn = setting("--ice-turn"); !turn.empty()) {
    auto server = resolve_server(turn, 3478, error);
    if (!server) return "--ice-turn " + error;
    config.turn = ice::TurnServer{server->first, server->second, setting("--ice-turn-user"),
                                  setting("--ice-turn-password"), "udp"};
  }
  return {};
}

}  // namespace

respond::ServiceKind ice_service() {
  respond::ServiceKind k;
  k.name = "ice";
  k.flag = "--ice";
  k.help = "A peer ICE agent per session for the ice check (no ports: its candidates use ephemeral ones)";
  k.takes_ports = false;
  k.sockets_per_port = 0;
  k.options = {{"--ice-stun", "STUN server HOST:PORT for the --ice agents' server-reflexive candidates"},
               {"--ice-turn", "TURN server HOST:PORT (UDP) for the --ice agents' relay candidates"},
               {"--ice-turn-user", "TURN username for --ice-turn"},
               {"--ice-turn-password", "TURN password for --ice-turn"}};
  k.start = [](respond::ServiceHost& host, const std::vector<net::PortRange>&,
               std::string& error) -> std::unique_ptr<respond::RunningService> {
    ice::AgentConfig config;
    error = base_config(host.options, config);
    if (!error.empty()) return nullptr;
    return std::make_unique<IceService>(host, std::move(config));
  };
  return k;
}

}  // namespace callready::checks
