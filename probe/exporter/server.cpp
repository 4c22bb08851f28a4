// The exporter's HTTP server: Boost.Beast on one io_context thread (every
// connection a coroutine, so one slow client never holds up another), probes
// on a worker pool of --max-concurrent-probes threads.
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>

#include "probe/clock.hpp"
#include "probe/exporter/exporter.hpp"
#include "probe/exporter/exporter_metrics.hpp"
#include "probe/net/host_port.hpp"
#include "probe/registry.hpp"
#include "reports/prometheus.hpp"
#include "reports/render.hpp"

namespace callready::exporter {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using Request = http::request<http::empty_body>;
using Response = http::response<http::string_body>;

namespace {

constexpr int kDefaultPort = 9947;
constexpr std::size_t kMaxConnections = 1024;
constexpr auto kWriteTimeout = std::chrono::seconds(10);

Response text_response(int status, std::string body, const char* type = "text/plain; charset=utf-8") {
  Response r{static_cast<http::status>(status), 11};
  r.set(http::field::server, "callready-exporter");
  r.set(http::field::content_type, type);
  r.body() = std::move(body);
  r.prepare_payload();
  return r;
}

Response refused(const Refusal& r) { return text_response(r.status, r.body); }

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::optional<std::string> decode_base64(const std::string& text) {
  if (text.empty() || text.size() % 4 != 0 || text.size() > 1024) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  auto pad = std::count(text.end() - 2, text.end(), '=');
  out.resize(static_cast<std::size_t>(n) - static_cast<std::size_t>(pad));
  return out;
}

struct App {
  ExporterOptions options;
  asio::io_context io;
  asio::thread_pool pool;
  std::mutex modules_mutex;
  std::shared_ptr<const ModuleSet> modules;
  BackgroundResults background;
  ExporterMetrics metrics;
  int in_flight = 0;
  std::size_t connections = 0;
  std::vector<std::string> credentials;  // "user:password"
  std::optional<asio::ssl::context> tls;

  explicit App(const ExporterOptions& o)
      : options(o),
        pool(static_cast<std::size_t>(o.max_concurrent_probes)),
        background(o.max_background_targets, o.max_background_runs) {}

  std::shared_ptr<const ModuleSet> current_modules() {
    std::lock_guard lock(modules_mutex);
    return modules;
  }

  // Loads the modules directory; on any error the old set stays and the errors are returned.
  std::vector<std::string> reload() {
    auto loaded = load_modules(options.modules_dir);
    metrics.reload(loaded.set != nullptr, loaded.set ? loaded.set->modules.size() : 0);
    if (!loaded.set) return loaded.errors;
    std::lock_guard lock(modules_mutex);
    modules = std::move(loaded.set);
    return {};
  }

  bool authorised(const Request& req) const {
    if (credentials.empty()) return true;
    auto header = req[http::field::authorization];
    if (!header.starts_with("Basic ")) return false;
    auto given = decode_base64(std::string(header.substr(6)));
    if (!given) return false;
    bool ok = false;
    for (const auto& c : credentials)
      ok |= c.size() == given->size() && CRYPTO_memcmp(c.data(), given->data(), c.size()) == 0;
    return ok;
  }
};

// The scan's budget: the scrape's timeout minus the offset, else the default; never above the maximum.
std::variant<Millis, Refusal> probe_budget(const App& app, const Request& req) {
  double seconds = app.options.default_timeout_s;
  auto header = req["X-Prometheus-Scrape-Timeout-Seconds"];
  if (!header.empty()) {
    try {
      seconds = std::stod(std::string(header)) - app.options.timeout_offset_s;
    } catch (const std::exception&) {
      return Refusal{400, "X-Prometheus-Scrape-Timeout-Seconds: expected a number of seconds\n"};
    }
    if (!(seconds > 0.1))
      return Refusal{400, fmt::format("X-Prometheus-Scrape-Timeout-Seconds {} leaves no time after the {} s offset\n",
                                      header, app.options.timeout_offset_s)};
  }
  seconds = std::min(seconds, app.options.max_timeout_s);
  return Millis(static_cast<long long>(seconds * 1000));
}

asio::awaitable<ProbeAnswer> probe_on_worker(std::shared_ptr<const Module> module, Plan plan, Millis budget,
                                             ProbeSettings settings, BackgroundResults* background) {
  co_return run_probe(*module, plan, budget, settings, *background);
}

asio::awaitable<Response> handle_probe(App& app, const RequestTarget& target, const Request& req) {
  auto query = parse_probe_query(target);
  if (auto* r = std::get_if<Refusal>(&query)) co_return refused(*r);
  const auto& q = std::get<ProbeQuery>(query);
  auto modules = app.current_modules();
  auto found = modules->modules.find(q.module);
  if (found == modules->modules.end()) {
    std::string names;
    for (const auto& [name, m] : modules->modules) names += (names.empty() ? "" : ", ") + name;
    co_return text_response(404, fmt::format("unknown module \"{}\" (modules: {})\n", q.module, names));
  }
  auto plan = plan_for(*found->second, q);
  if (auto* r = std::get_if<Refusal>(&plan)) co_return refused(*r);
  auto budget = probe_budget(app, req);
  if (auto* r = std::get_if<Refusal>(&budget)) co_return refused(*r);
  if (app.in_flight >= app.options.max_concurrent_probes)
    co_return text_response(503,
                            fmt::format("{} probes are running (--max-concurrent-probes); try again\n", app.in_flight));
  app.metrics.set_in_flight(++app.in_flight);
  auto started = Clock::now();
  std::optional<ProbeAnswer> answer;
  std::string failure;
  try {
    // Named first: GCC 12 miscompiles temporaries inside a co_await expression.
    auto work = probe_on_worker(found->second, std::get<Plan>(std::move(plan)), std::get<Millis>(budget),
                                app.options.probe, &app.background);
    auto on_pool = asio::co_spawn(app.pool, std::move(work), asio::use_awaitable);
    answer = co_await std::move(on_pool);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  app.metrics.set_in_flight(--app.in_flight);
  if (!answer) co_return text_response(500, fmt::format("the probe failed: {}\n", failure));
  double duration = seconds_since(started);
  app.metrics.probe_finished(
      q.module, answer->report.verdict == Verdict::ready || answer->report.verdict == Verdict::degraded, duration);
  ProbeExposition exposition{&check_metrics, duration, answer->last_run};
  auto metrics_text = render_prometheus(answer->report, exposition);
  if (q.debug)
    co_return text_response(200,
                            render_text(answer->report) + "\nMetrics that would have been returned:\n" + metrics_text);
  co_return text_response(200, std::move(metrics_text), "text/plain; version=0.0.4; charset=utf-8");
}

Response handle_metrics(App& app) {
  prometheus::Exposition out;
  app.metrics.add_to(out, app.background.running());
  add_process_metrics(out);
  return text_response(200, out.text(), "text/plain; version=0.0.4; charset=utf-8");
}

Response handle_reload(App& app) {
  auto errors = app.reload();
  if (errors.empty())
    return text_response(200, fmt::format("reloaded: {} modules\n", app.current_modules()->modules.size()));
  std::string body = "reload failed; the previous modules stay in use:\n";
  for (const auto& e : errors) body += e + "\n";
  fmt::print(stderr, "callready exporter: {}", body);
  return text_response(500, body);
}

const char* kIndex =
    "callready exporter\n\n"
    "GET  /probe?module=<profile>&target=<host>[&set.<var>=<value>...][&debug=true]\n"
    "GET  /metrics      the exporter's own metrics\n"
    "POST /-/reload     reload --modules (SIGHUP does the same)\n"
    "GET  /-/healthy    200 while running\n";

// The routes, then each module with the variable `target` fills and its origin.
std::string index_page(App& app) {
  std::string out = std::string(kIndex) + "\nModules (target fills):\n";
  for (const auto& [name, m] : app.current_modules()->modules)
    out += fmt::format("  {:<24} {:<14} {}\n", name, m->target_variable.empty() ? "-" : m->target_variable, m->origin);
  return out;
}

// Which handler a path is, for the request counter (bounded: unknown paths are "other").
std::string handler_of(const std::string& path) {
  for (const char* known : {"/probe", "/metrics", "/-/reload", "/-/healthy", "/-/ready", "/"})
    if (path == known) return known;
  return "other";
}

asio::awaitable<Response> route(App& app, const Request& req, std::string& handler) {
  if (!app.authorised(req)) {
    auto r = text_response(401, "authentication required\n");
    r.set(http::field::www_authenticate, "Basic realm=\"callready\"");
    co_return r;
  }
  auto parsed = parse_request_target(req.target(), app.options.limits);
  if (auto* r = std::get_if<Refusal>(&parsed)) co_return refused(*r);
  const auto& target = std::get<RequestTarget>(parsed);
  handler = handler_of(target.path);
  bool read = req.method() == http::verb::get || req.method() == http::verb::head;
  bool write = req.method() == http::verb::post || req.method() == http::verb::put;
  if (handler == "/-/reload") co_return write ? handle_reload(app) : text_response(405, "use POST\n");
  if (handler != "other" && !read) co_return text_response(405, "use GET\n");
  if (handler == "/probe") co_return co_await handle_probe(app, target, req);
  if (handler == "/metrics") co_return handle_metrics(app);
  if (handler == "/-/healthy" || handler == "/-/ready") co_return text_response(200, "OK\n");
  if (handler == "/") co_return text_response(200, index_page(app));
  co_return text_response(404, fmt::format("no such path: {} (see /)\n", target.path));
}

// Cancels a socket's pending operation when a deadline passes, without
// closing it, so that a slow client can still be told 408.
class Watchdog {
 public:
  Watchdog(asio::any_io_executor ex, tcp::socket& socket) : timer_(ex), socket_(socket) {}
  template <class Duration>
  void arm(Duration d) {
    fired_ = false;
    timer_.expires_after(std::chrono::duration_cast<Clock::duration>(d));
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      fired_ = true;
      boost::system::error_code ignored;
      socket_.cancel(ignored);
    });
  }
  void disarm() { timer_.cancel(); }
  bool fired() const { return fired_; }

 private:
  Timer timer_;
  tcp::socket& socket_;
  bool fired_ = false;
};

template <class Stream>
asio::awaitable<void> serve(App& app, Stream& stream, tcp::socket& socket, Watchdog& watchdog) {
  boost::beast::flat_buffer buffer;
  auto read_timeout = std::chrono::duration<double>(app.options.read_timeout_s);
  for (;;) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(app.options.max_header_bytes));
    watchdog.arm(read_timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    watchdog.disarm();
    std::string handler = "other";
    std::optional<Response> response;
    if (watchdog.fired())
      response =
          text_response(408, fmt::format("the request did not arrive within {} s\n", app.options.read_timeout_s));
    else if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
      response = text_response(400, fmt::format("request head larger than {} bytes\n", app.options.max_header_bytes));
    else if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset)
      co_return;
    else if (ec)
      response = text_response(400, fmt::format("malformed request: {}\n", ec.message()));
    else
      response = co_await route(app, parser.get(), handler);
    bool keep_alive = !ec && parser.get().keep_alive();
    response->keep_alive(keep_alive);
    if (!ec && parser.get().method() == http::verb::head) response->body().clear();
    app.metrics.request_answered(handler, response->result_int());
    watchdog.arm(kWriteTimeout);
    auto [wec, written] = co_await http::async_write(stream, *response, asio::as_tuple(asio::use_awaitable));
    watchdog.disarm();
    if (wec || !keep_alive) co_return;
  }
  (void)socket;
}

asio::awaitable<void> session(App& app, tcp::socket socket) {
  ++app.connections;
  Watchdog watchdog(app.io.get_executor(), socket);
  if (app.tls) {
    asio::ssl::stream<tcp::socket&> stream(socket, *app.tls);
    watchdog.arm(std::chrono::duration<double>(app.options.read_timeout_s));
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, asio::as_tuple(asio::use_awaitable));
    watchdog.disarm();
    if (!ec) co_await serve(app, stream, socket, watchdog);
  } else {
    co_await serve(app, socket, socket, watchdog);
  }
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  socket.close(ignored);
  --app.connections;
}

asio::awaitable<void> accept_loop(App& app, tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors and the like: wait a moment instead of spinning.
      Timer pause(app.io);
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    if (app.connections >= kMaxConnections) continue;  // the socket closes here
    asio::co_spawn(app.io, session(app, std::move(socket)), asio::detached);
  }
}

// IP[:PORT]; port 0 (the kernel's pick, for tests) is allowed here.
std::optional<tcp::endpoint> listen_endpoint(std::string text) {
  bool any_port = text.ends_with("]:0") || (text.ends_with(":0") && std::count(text.begin(), text.end(), ':') == 1);
  if (any_port) text.resize(text.size() - 2);
  auto hp = net::parse_host_port(text);
  if (!hp) return std::nullopt;
  if (any_port) hp->port = 0;
  std::string host = hp->host == "localhost" ? "127.0.0.1" : hp->host;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return std::nullopt;
  return tcp::endpoint(address, hp->port.value_or(kDefaultPort));
}

std::optional<std::string> read_credentials(const std::string& path, std::vector<std::string>& out) {
  std::ifstream in(path);
  if (!in) return fmt::format("--basic-auth-file {}: cannot read", path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    if (line.find(':') == std::string::npos || line.front() == ':')
      return fmt::format("--basic-auth-file {}: expected user:password lines", path);
    out.push_back(line);
  }
  if (out.empty()) return fmt::format("--basic-auth-file {}: no user:password line", path);
  return std::nullopt;
}

std::optional<std::string> set_up_tls(App& app) {
  const auto& o = app.options;
  if (o.tls_cert_file.empty() && o.tls_key_file.empty()) return std::nullopt;
  if (o.tls_cert_file.empty() || o.tls_key_file.empty()) return "--tls-cert and --tls-key go together";
  app.tls.emplace(asio::ssl::context::tls_server);
  app.tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  app.tls->use_certificate_chain_file(o.tls_cert_file, ec);
  if (ec) return fmt::format("--tls-cert {}: {}", o.tls_cert_file, ec.message());
  app.tls->use_private_key_file(o.tls_key_file, asio::ssl::context::pem, ec);
  if (ec) return fmt::format("--tls-key {}: {}", o.tls_key_file, ec.message());
  return std::nullopt;
}

}  // namespace

int run_exporter(const ExporterOptions& options) {
  auto fail = [](const std::string& message) {
    fmt::print(stderr, "callready exporter: {}\n", message);
    return 3;
  };
  auto endpoint = listen_endpoint(options.listen);
  if (!endpoint)
    return fail(fmt::format("--listen {}: expected IP[:PORT] (default port {})", options.listen, kDefaultPort));
  App app(options);
  if (!options.basic_auth_file.empty())
    if (auto err = read_credentials(options.basic_auth_file, app.credentials)) return fail(*err);
  if (auto err = set_up_tls(app)) return fail(*err);
  if (auto errors = app.reload(); !errors.empty()) {
    for (const auto& e : errors) fmt::print(stderr, "callready exporter: {}\n", e);
    return 3;
  }
  if (!options.modules_dir.empty() && !std::filesystem::is_directory(options.modules_dir))
    fmt::print(stderr, "callready exporter: --modules {}: no such directory; serving the built-in profiles\n",
               options.modules_dir);
  tcp::acceptor acceptor(app.io);
  boost::system::error_code ec;
  acceptor.open(endpoint->protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(*endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(fmt::format("--listen {}: {}", options.listen, ec.message()));
  auto bound = acceptor.local_endpoint();
  fmt::print(stderr, "callready exporter: listening on {} ({}), {} modules\n",
             net::format_host_port(bound.address(), bound.port()), app.tls ? "https" : "http",
             app.current_modules()->modules.size());

  asio::signal_set signals(app.io, SIGHUP, SIGINT, SIGTERM);
  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code sec, int sig) {
    if (sec) return;
    if (sig == SIGHUP) {
      auto errors = app.reload();
      for (const auto& e : errors) fmt::print(stderr, "callready exporter: reload failed, keeping modules: {}\n", e);
      if (errors.empty())
        fmt::print(stderr, "callready exporter: reloaded {} modules\n", app.current_modules()->modules.size());
      signals.async_wait(on_signal);
      return;
    }
    acceptor.close();
    app.io.stop();
  };
  signals.async_wait(on_signal);
  asio::co_spawn(app.io, accept_loop(app, acceptor), asio::detached);
  app.io.run();
  app.pool.stop();
  app.pool.join();
  return 0;
}

}  // namespace callready::exporter
