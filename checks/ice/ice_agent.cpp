#include "checks/ice/ice_agent.hpp"

#include <agent.h>
#include <fmt/format.h>
#include <glib.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <thread>

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

namespace callready::checks::ice {

namespace asio = boost::asio;

namespace {

// GLib hands a callback's data to its thread under its own lock, a bare futex
// in an uninstrumented library that ThreadSanitizer cannot see: the hand-over
// is declared to it here (scripts/tsan.sh). Nothing in other builds.
void handing_over([[maybe_unused]] void* data) {
#if defined(__SANITIZE_THREAD__)
  __tsan_release(data);
#endif
}
void taking_over([[maybe_unused]] void* data) {
#if defined(__SANITIZE_THREAD__)
  __tsan_acquire(data);
#endif
}

}  // namespace

struct GlibThreadRunner {
  std::thread thread;
};

GlibThread::GlibThread()
    : context_(g_main_context_new()),
      loop_(g_main_loop_new(context_, FALSE)),
      runner_(std::make_unique<GlibThreadRunner>()) {
  runner_->thread = std::thread([this, ctx = context_, loop = loop_] {
    g_main_context_push_thread_default(ctx);
    g_main_loop_run(loop);
    // What was queued before the quit (agents' releases) still runs, and
    // closing agents get a bounded time to release their TURN allocations.
    while (g_main_context_iteration(ctx, FALSE)) {
    }
    bool expired = false;
    GSource* bound = g_timeout_source_new(kCloseWaitMs);
    g_source_set_callback(
        bound,
        [](gpointer flag) -> gboolean {
          *static_cast<bool*>(flag) = true;
          return G_SOURCE_REMOVE;
        },
        &expired, nullptr);
    g_source_attach(bound, ctx);
    while (closing_ > 0 && !expired) g_main_context_iteration(ctx, TRUE);
    g_source_destroy(bound);
    g_source_unref(bound);
    g_main_context_pop_thread_default(ctx);
  });
}

GlibThread::~GlibThread() {
  invoke([loop = loop_] { g_main_loop_quit(loop); });
  runner_->thread.join();
  g_main_loop_unref(loop_);
  g_main_context_unref(context_);
}

void GlibThread::invoke(std::function<void()> fn) {
  auto* heap = new std::function<void()>(std::move(fn));
  handing_over(heap);
  g_main_context_invoke_full(
      context_, G_PRIORITY_DEFAULT,
      [](gpointer data) -> gboolean {
        taking_over(data);
        (*static_cast<std::function<void()>*>(data))();
        return G_SOURCE_REMOVE;
      },
      heap, [](gpointer data) { delete static_cast<std::function<void()>*>(data); });
}

std::string probe_payload(std::uint32_t sequence) { return fmt::format("callready-ice {}", sequence); }

std::optional<std::uint32_t> probe_sequence(std::string_view payload) {
  constexpr std::string_view prefix = "callready-ice ";
  if (!payload.starts_with(prefix)) return std::nullopt;
  payload.remove_prefix(prefix.size());
  std::uint32_t v = 0;
  auto [end, ec] = std::from_chars(payload.data(), payload.data() + payload.size(), v);
  if (ec != std::errc() || end != payload.data() + payload.size()) return std::nullopt;
  return v;
}

// The Asio side of an agent: what it reported, and the timer a waiter sleeps on.
struct Agent::Side {
  AgentState state;
  Timer wake;
  explicit Side(asio::any_io_executor ex) : wake(ex) {}
};

namespace {

const char* type_name(NiceCandidateType t) {
  switch (t) {
    case NICE_CANDIDATE_TYPE_HOST:
      return "host";
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE:
      return "srflx";
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE:
      return "prflx";
    case NICE_CANDIDATE_TYPE_RELAYED:
      return "relay";
  }
  return "host";
}

NiceCandidateType type_of(const std::string& t) {
  if (t == "srflx") return NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE;
  if (t == "prflx") return NICE_CANDIDATE_TYPE_PEER_REFLEXIVE;
  if (t == "relay") return NICE_CANDIDATE_TYPE_RELAYED;
  return NICE_CANDIDATE_TYPE_HOST;
}

std::string address_text(const NiceAddress& a) {
  char text[NICE_ADDRESS_STRING_LEN] = {};
  nice_address_to_string(&a, text);
  return text;
}

Candidate from_nice(const NiceCandidate& n) {
  Candidate c;
  c.foundation = n.foundation;
  if (c.foundation.empty()) c.foundation = "0";
  c.component = static_cast<int>(n.component_id);
  c.priority = n.priority;
  c.address = address_text(n.addr);
  c.port = static_cast<std::uint16_t>(nice_address_get_port(&n.addr));
  c.type = type_name(n.type);
  c.transport = n.transport == NICE_CANDIDATE_TRANSPORT_UDP ? "udp" : "tcp";
  if (n.transport == NICE_CANDIDATE_TRANSPORT_TCP_ACTIVE) c.tcptype = "active";
  if (n.transport == NICE_CANDIDATE_TRANSPORT_TCP_PASSIVE) c.tcptype = "passive";
  if (n.transport == NICE_CANDIDATE_TRANSPORT_TCP_SO) c.tcptype = "so";
  if (n.type != NICE_CANDIDATE_TYPE_HOST && nice_address_is_valid(&n.base_addr)) {
    c.related_address = address_text(n.base_addr);
    c.related_port = static_cast<std::uint16_t>(nice_address_get_port(&n.base_addr));
  }
  return c;
}

NiceCandidate* to_nice(const Candidate& c, guint stream) {
  NiceCandidate* n = nice_candidate_new(type_of(c.type));
  n->transport = c.transport == "udp"     ? NICE_CANDIDATE_TRANSPORT_UDP
                 : c.tcptype == "active"  ? NICE_CANDIDATE_TRANSPORT_TCP_ACTIVE
                 : c.tcptype == "passive" ? NICE_CANDIDATE_TRANSPORT_TCP_PASSIVE
                                          : NICE_CANDIDATE_TRANSPORT_TCP_SO;
  nice_address_set_from_string(&n->addr, c.address.c_str());
  nice_address_set_port(&n->addr, c.port);
  n->priority = c.priority;
  n->stream_id = stream;
  n->component_id = static_cast<guint>(c.component);
  g_strlcpy(n->foundation, c.foundation.c_str(), NICE_CANDIDATE_MAX_FOUNDATION);
  return n;
}

NiceRelayType relay_type(const std::string& transport) {
  if (transport == "tcp") return NICE_RELAY_TYPE_TURN_TCP;
  if (transport == "tls") return NICE_RELAY_TYPE_TURN_TLS;
  return NICE_RELAY_TYPE_TURN_UDP;
}

}  // namespace

// Lives on the GLib thread: the agent and what its callbacks need.
struct Agent::Shared {
  NiceAgent* agent = nullptr;
  guint stream = 0;
  AgentConfig config;
  GlibThread* glib = nullptr;
  asio::any_io_executor ex;
  std::shared_ptr<Side> side;

  // Posts `change` to the Asio side and wakes its waiter.
  template <class F>
  void report(F change) {
    asio::post(ex, [side = side, change = std::move(change)]() mutable {
      change(side->state);
      side->wake.cancel();
    });
  }

  void snapshot_local() {
    std::vector<Candidate> local;
    GSList* list = nice_agent_get_local_candidates(agent, stream, 1);
    for (GSList* i = list; i; i = i->next) local.push_back(from_nice(*static_cast<NiceCandidate*>(i->data)));
    g_slist_free_full(list, reinterpret_cast<GDestroyNotify>(nice_candidate_free));
    report([local = std::move(local)](AgentState& s) mutable {
      s.local = std::move(local);
      ++s.snapshots;
    });
  }

  NiceAgent* agent_closing = nullptr;

  void open();
  void release(std::shared_ptr<Shared> self);
};

namespace {

void on_gathering_done(NiceAgent*, guint, gpointer data) {
  auto* s = static_cast<Agent::Shared*>(data);
  s->snapshot_local();
  s->report([](AgentState& st) { st.gathering_done = true; });
}

void on_state(NiceAgent*, guint, guint, guint state, gpointer data) {
  auto* s = static_cast<Agent::Shared*>(data);
  if (state == NICE_COMPONENT_STATE_READY || state == NICE_COMPONENT_STATE_CONNECTED)
    s->report([](AgentState& st) { st.connected = true; });
  else if (state == NICE_COMPONENT_STATE_FAILED)
    s->report([](AgentState& st) { st.failed = true; });
}

void on_selected(NiceAgent*, guint, guint, NiceCandidate* local, NiceCandidate* remote, gpointer data) {
  auto* s = static_cast<Agent::Shared*>(data);
  s->report([l = from_nice(*local), r = from_nice(*remote)](AgentState& st) {
    st.selected_local = l;
    st.selected_remote = r;
  });
}

void on_receive(NiceAgent* agent, guint stream, guint component, guint len, gchar* buf, gpointer data) {
  auto* s = static_cast<Agent::Shared*>(data);
  auto sequence = probe_sequence(std::string_view(buf, len));
  if (!sequence) return;  // not ours: nothing to echo or count
  if (s->config.echo)
    nice_agent_send(agent, stream, component, len, buf);
  else
    s->report([n = *sequence](AgentState& st) { st.received.push_back(n); });
}

}  // namespace

void Agent::Shared::open() {
  agent = nice_agent_new_full(g_main_context_get_thread_default(), NICE_COMPATIBILITY_RFC5245,
                              NICE_AGENT_OPTION_REGULAR_NOMINATION);
  if (!agent) {
    report([](AgentState& st) { st.error = "libnice could not create an agent"; });
    return;
  }
  g_object_set(agent, "upnp", FALSE, "controlling-mode", config.controlling ? TRUE : FALSE, "ice-tcp",
               config.ice_tcp ? TRUE : FALSE, "force-relay", config.relay_only ? TRUE : FALSE, nullptr);
  // With STUN and TURN on the same UDP server, libnice sends the Binding from
  // the socket that holds the allocation and drops its answer as "incorrectly
  // multiplexed": the discovery then times out (2 s). The Allocate answer
  // carries the server-reflexive address anyway (XOR-MAPPED-ADDRESS).
  bool stun_is_turn = config.stun && config.turn && config.turn->transport == "udp" &&
                      config.stun->first == config.turn->address && config.stun->second == config.turn->port;
  if (config.stun && !stun_is_turn)
    g_object_set(agent, "stun-server", config.stun->first.c_str(), "stun-server-port", config.stun->second, nullptr);
  for (const auto& text : config.local_addresses) {
    NiceAddress address;
    nice_address_init(&address);
    if (nice_address_set_from_string(&address, text.c_str())) nice_agent_add_local_address(agent, &address);
  }
  g_signal_connect(agent, "candidate-gathering-done", G_CALLBACK(on_gathering_done), this);
  g_signal_connect(agent, "component-state-changed", G_CALLBACK(on_state), this);
  g_signal_connect(agent, "new-selected-pair-full", G_CALLBACK(on_selected), this);
  stream = nice_agent_add_stream(agent, 1);
  if (config.turn)
    nice_agent_set_relay_info(agent, stream, 1, config.turn->address.c_str(), config.turn->port,
                              config.turn->username.c_str(), config.turn->password.c_str(),
                              relay_type(config.turn->transport));
  nice_agent_attach_recv(agent, stream, 1, g_main_context_get_thread_default(), on_receive, this);
  gchar *ufrag = nullptr, *pwd = nullptr;
  nice_agent_get_local_credentials(agent, stream, &ufrag, &pwd);
  report([u = std::string(ufrag ? ufrag : ""), p = std::string(pwd ? pwd : "")](AgentState& st) {
    st.ufrag = u;
    st.pwd = p;
  });
  g_free(ufrag);
  g_free(pwd);
  if (!nice_agent_gather_candidates(agent, stream))
    report([](AgentState& st) { st.error = "libnice could not gather candidates (no usable local address)"; });
}

void Agent::Shared::release(std::shared_ptr<Shared> self) {
  if (!agent) return;
  g_signal_handlers_disconnect_by_data(agent, this);
  // Closing first releases the TURN allocations (a refresh with lifetime 0);
  // the agent keeps reading its sockets (and `self` stays alive for the
  // receive callback) until that is done.
  struct Closing {
    std::shared_ptr<Shared> shared;
  };
  glib->closing(+1);
  nice_agent_close_async(
      agent,
      [](GObject* source, GAsyncResult*, gpointer data) {
        std::unique_ptr<Closing> closing(static_cast<Closing*>(data));
        auto& s = *closing->shared;
        nice_agent_attach_recv(s.agent_closing, s.stream, 1, g_main_context_get_thread_default(), nullptr, nullptr);
        g_object_unref(source);
        s.glib->closing(-1);
      },
      new Closing{std::move(self)});
  agent_closing = agent;
  agent = nullptr;
}

Agent::Agent(GlibThread& glib, asio::any_io_executor ex) : glib_(glib), ex_(std::move(ex)) {}

std::shared_ptr<Agent> Agent::start(GlibThread& glib, asio::any_io_executor ex, AgentConfig config) {
  std::shared_ptr<Agent> a(new Agent(glib, ex));
  auto side = std::make_shared<Side>(ex);
  a->side_ = side;
  a->shared_ = std::make_shared<Shared>();
  a->shared_->config = std::move(config);
  a->shared_->ex = ex;
  a->shared_->glib = &glib;
  a->shared_->side = side;
  glib.invoke([s = a->shared_] { s->open(); });
  return a;
}

Agent::~Agent() { close(); }

const AgentState& Agent::state() const { return side_->state; }

void Agent::close() {
  if (!shared_) return;
  glib_.invoke([s = std::move(shared_)]() mutable {
    auto* shared = s.get();
    shared->release(std::move(s));
  });
}

Description Agent::local_description() const {
  return Description{side_->state.ufrag, side_->state.pwd, side_->state.local};
}

void Agent::set_remote(const Description& remote) {
  if (!shared_) return;
  glib_.invoke([s = shared_, remote] {
    if (!s->agent) return;
    // Gathering may still be running (capped): what is there now is what the peer gets.
    nice_agent_set_remote_credentials(s->agent, s->stream, remote.ufrag.c_str(), remote.pwd.c_str());
    GSList* list = nullptr;
    for (const auto& c : remote.candidates)
      if (c.component == 1) list = g_slist_append(list, to_nice(c, s->stream));
    nice_agent_set_remote_candidates(s->agent, s->stream, 1, list);
    g_slist_free_full(list, reinterpret_cast<GDestroyNotify>(nice_candidate_free));
  });
}

void Agent::send_probe(std::uint32_t sequence) {
  if (!shared_) return;
  glib_.invoke([s = shared_, payload = probe_payload(sequence)] {
    if (s->agent) nice_agent_send(s->agent, s->stream, 1, static_cast<guint>(payload.size()), payload.data());
  });
}

void Agent::snapshot() {
  if (!shared_) return;
  glib_.invoke([s = shared_] {
    if (s->agent) s->snapshot_local();
  });
}

asio::awaitable<bool> Agent::gather_until(Clock::time_point cap) {
  auto done = [](const AgentState& s) { return s.gathering_done || !s.error.empty(); };
  if (co_await wait(done, cap)) co_return state().gathering_done;
  int before = state().snapshots;
  snapshot();
  // The GLib thread answers within a turn of its loop; a bound all the same.
  auto read = [before](const AgentState& s) { return s.snapshots > before; };
  co_await wait(read, Clock::now() + Millis(500));
  co_return false;
}

asio::awaitable<bool> Agent::wait(std::function<bool(const AgentState&)> ready, Clock::time_point until) {
  auto side = side_;
  for (;;) {
    if (ready(side->state)) co_return true;
    if (Clock::now() >= until) co_return false;
    side->wake.expires_at(until);
    co_await side->wake.async_wait(asio::as_tuple(asio::use_awaitable));
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none)
      throw boost::system::system_error(asio::error::operation_aborted);
  }
}

}  // namespace callready::checks::ice
