#pragma once
// A libnice agent driven from Asio. libnice runs on GLib: each GlibThread owns
// a GMainContext and a GMainLoop on its own thread; calls into the agent are
// handed to that thread (g_main_context_invoke_full), and what the agent
// reports (candidates, state, selected pair, data) is posted back to the Asio
// executor, where only Asio code reads it. The agent is created, used and
// released on the GLib thread; the thread ends (joined) when the GlibThread
// is destroyed, after every agent on it has been released.
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "checks/ice/ice_codec.hpp"
#include "probe/clock.hpp"

typedef struct _GMainContext GMainContext;
typedef struct _GMainLoop GMainLoop;

namespace callready::checks::ice {

class GlibThread {
 public:
  GlibThread();
  ~GlibThread();  // quits the loop, runs what is still queued, joins
  GlibThread(const GlibThread&) = delete;
  GlibThread& operator=(const GlibThread&) = delete;
  // Runs `fn` on the GLib thread (in order of calls).
  void invoke(std::function<void()> fn);
  GMainContext* context() const { return context_; }
  // An agent is closing (its TURN allocations being released): the thread
  // waits for it, at most kCloseWait, before it ends.
  void closing(int delta) { closing_ += delta; }
  static constexpr int kCloseWaitMs = 1000;

 private:
  std::atomic<int> closing_{0};
  GMainContext* context_;
  GMainLoop* loop_;
  std::unique_ptr<struct GlibThreadRunner> runner_;
};

struct TurnServer {
  std::string address;  // an IP literal
  std::uint16_t port = 3478;
  std::string username, password;
  std::string transport = "udp";  // udp, tcp, tls
};

struct AgentConfig {
  bool controlling = true;
  std::optional<std::pair<std::string, std::uint16_t>> stun;  // IP literal, port
  std::optional<TurnServer> turn;
  bool ice_tcp = false;
  bool relay_only = false;
  // When not empty, the only addresses host candidates use (libnice ignores
  // loopback unless it is added here).
  std::vector<std::string> local_addresses;
  bool echo = false;  // send every datagram received back on the same pair (the responder's agent)
};

// What the agent reported so far; read on the Asio executor only.
struct AgentState {
  std::string ufrag, pwd;
  std::vector<Candidate> local;
  int snapshots = 0;  // times `local` was read from the agent
  bool gathering_done = false;
  bool connected = false;  // a pair was selected and the component is ready/connected
  bool failed = false;     // the connectivity checks ended without a pair
  std::optional<Candidate> selected_local, selected_remote;
  std::vector<std::uint32_t> received;  // sequence numbers of datagrams received (echoes)
  std::string error;                    // the agent could not be set up
};

class Agent : public std::enable_shared_from_this<Agent> {
 public:
  // Creates the agent on `glib` and starts gathering; `glib` must outlive it.
  static std::shared_ptr<Agent> start(GlibThread& glib, boost::asio::any_io_executor ex, AgentConfig config);
  ~Agent();

  const AgentState& state() const;
  Description local_description() const;
  void set_remote(const Description& remote);
  void send_probe(std::uint32_t sequence);  // a small datagram over the selected pair
  void snapshot();                          // refresh state().local from the agent (gathering capped)
  // Waits until `ready` holds or `until` passes; true when it holds.
  boost::asio::awaitable<bool> wait(std::function<bool(const AgentState&)> ready, Clock::time_point until);
  // Waits for gathering to finish, at most until `cap`; when it did not, reads
  // what was gathered so far. True when gathering finished in time.
  boost::asio::awaitable<bool> gather_until(Clock::time_point cap);
  // Releases the agent on the GLib thread (also done by the destructor).
  void close();

  struct Shared;
  struct Side;

 private:
  Agent(GlibThread& glib, boost::asio::any_io_executor ex);
  GlibThread& glib_;
  boost::asio::any_io_executor ex_;
  std::shared_ptr<Side> side_;
  std::shared_ptr<Shared> shared_;
};

// The probe datagram: "callready-ice <sequence>".
std::string probe_payload(std::uint32_t sequence);
std::optional<std::uint32_t> probe_sequence(std::string_view payload);

}  // namespace callready::checks::ice
