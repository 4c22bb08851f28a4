// The http kind against nginx, a server nobody here wrote, playing an XSP
// with two addresses (127.0.0.2 and 127.0.0.3 behind one name served by
// dnsmasq): a 200 on one and a 503 on the other, a 301, a 3 s delay on one
// address (nginx waiting on a silent upstream, then answering), a 10 MB
// body, and a TLS server demanding a client certificate (ssl_verify_client)
// from a named CA. Then the answers no real server gives on purpose (no status
// line, endless header, endless chunked body, silence) from a canned server.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "checks/dns/dns_check.hpp"
#include "checks/http/http_check.hpp"
#include "probe/net/resolver.hpp"
#include "probe/net/responder_control.hpp"
#include "tests/fixtures/tls/tls_harness.hpp"
#include "tests/support/dnsmasq.hpp"
#include "tests/support/skip.hpp"

using namespace callready;
using namespace callready::test;
using nlohmann::json;
namespace asio = boost::asio;

namespace {

std::string nginx_program() {
  if (have_program("nginx")) return "nginx";
  return have_program("/usr/sbin/nginx") ? "/usr/sbin/nginx" : "";
}

// One nginx serving every shape this file tests, killed by PID at the end.
struct XspNginx {
  TempDir dir;
  unsigned short port = 0;      // plain HTTP on 127.0.0.2 and 127.0.0.3
  unsigned short tls_port = 0;  // HTTPS with ssl_verify_client on 127.0.0.1
  asio::io_context idle;        // never run: its acceptor is the silent upstream
  asio::ip::tcp::acceptor silent{idle, {asio::ip::make_address("127.0.0.1"), 0}};
  std::unique_ptr<ChildProcess> proc;

  XspNginx() {
    const auto& pki = tls::pki();
    port = free_port();
    tls_port = free_port();
    std::string d = dir.path();
    dir.write("big", std::string(10 * 1024 * 1024, 'x'));
    // nginx's worker (nobody, when the test runs as root) must reach the file.
    namespace fs = std::filesystem;
    fs::permissions(d, fs::perms::others_exec | fs::perms::group_exec, fs::perm_options::add);
    fs::permissions(dir.file("big"), fs::perms::others_read | fs::perms::group_read, fs::perm_options::add);
    auto chain = read_file(pki.file("leaf.pem")) + read_file(pki.file("inter.pem"));
    dir.write("chain.pem", chain);
    std::string conf =
        fmt::format("worker_processes 1;\nerror_log {}/error.log;\nevents {{ worker_connections 64; }}\n", d);
    conf += "http {\n  access_log off;\n";
    for (const char* t : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"})
      conf += fmt::format("  {}_temp_path {}/{};\n", t, d, t);
    conf += fmt::format(
        "  server {{\n    listen 127.0.0.2:{0};\n    location / {{ return 200 \"ok\\n\"; }}\n"
        "    location /old {{ return 301 https://elsewhere.example.test/new; }}\n"
        "    location /big {{ root {1}; }}\n  }}\n",
        port, d);
    conf += fmt::format(
        "  server {{\n    listen 127.0.0.3:{0};\n    location / {{ return 503; }}\n"
        "    location /old {{ return 301 https://elsewhere.example.test/new; }}\n"
        "    location /slow {{ proxy_pass http://127.0.0.1:{1}; proxy_read_timeout 3s; error_page 504 =200 @late; }}\n"
        "    location @late {{ return 200 \"late\\n\"; }}\n  }}\n",
        port, silent.local_endpoint().port());
    conf += fmt::format(
        "  server {{\n    listen 127.0.0.1:{0} ssl;\n    ssl_certificate {1}/chain.pem;\n"
        "    ssl_certificate_key {2};\n    ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_verify_client on;\n    "
        "ssl_client_certificate {3};\n"
        "    location / {{ return 200 \"ok\\n\"; }}\n  }}\n}}\n",
        tls_port, d, pki.file("leaf.key"), pki.file("clientca.pem"));
    dir.write("nginx.conf", conf);
    proc = std::make_unique<ChildProcess>(std::vector<std::string>{nginx_program(), "-p", d, "-c", d + "/nginx.conf",
                                                                   "-g", "daemon off; pid " + d + "/nginx.pid;"},
                                          d + "/stderr.log");
    bool up = wait_for_tcp("127.0.0.2", port, std::chrono::seconds(5)) &&
              wait_for_tcp("127.0.0.3", port, std::chrono::seconds(5)) &&
              wait_for_tcp("127.0.0.1", tls_port, std::chrono::seconds(5));
    std::string why = up ? "" : proc->log() + read_file(d + "/error.log");
    REQUIRE_MESSAGE(up, why);
  }
};

// Runs a check the way the engine does, resolving through `dns`.
CheckOutcome run_kind(const CheckKind& kind, const json& params, const std::string& dns) {
  asio::io_context io;
  net::Resolver resolver(io.get_executor(), net::parse_dns_server(dns));
  net::ResponderLink responder(io.get_executor(), net::kDefaultControlPort, "");
  ScanSettings settings;
  CheckContext ctx{io.get_executor(), resolver,  Clock::now() + std::chrono::seconds(30),
                   settings,          responder, [](const std::string&) {}};
  CheckOutcome out;
  std::exception_ptr error;
  asio::co_spawn(io, kind.run(params, ctx), [&](std::exception_ptr e, CheckOutcome o) {
    error = e;
    out = std::move(o);
  });
  io.run();
  if (error) std::rethrow_exception(error);
  return out;
}

CheckOutcome run_http(const json& params, const std::string& dns) {
  return run_kind(checks::http_check_kind(), params, dns);
}

std::vector<std::string> codes(const CheckOutcome& o) {
  std::vector<std::string> out;
  for (const auto& f : o.findings) out.push_back(f.code);
  return out;
}

const json& at(const CheckOutcome& o, const std::string& address) {
  for (const auto& a : o.details.at("addresses"))
    if (a.at("address") == address) return a;
  FAIL("no address " << address << " in " << o.details.dump());
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("nginx as a two-address XSP: each shape reported exactly") {
  if (nginx_program().empty()) CALLREADY_SKIP("nginx is not installed");
  if (!have_program("dnsmasq")) CALLREADY_SKIP("dnsmasq is not installed");
  XspNginx nginx;
  Dnsmasq dns({"--address=/xsp.example.test/127.0.0.2", "--address=/xsp.example.test/127.0.0.3"});
  std::string base = fmt::format("http://xsp.example.test:{}", nginx.port);

  SUBCASE("200 on one address, 503 (three tries) on the other") {
    auto o = run_http({{"url", base + "/com.broadsoft.xsi-actions/v2.0/versions"}, {"proxy", "direct"}}, dns.server());
    INFO(o.details.dump());
    CHECK(!o.error);
    CHECK(codes(o) == std::vector<std::string>{"http.server_error"});
    CHECK(o.findings[0].severity == Severity::warning);
    CHECK(at(o, "127.0.0.2")["status"] == 200);
    CHECK(at(o, "127.0.0.2")["server"].get<std::string>().rfind("nginx", 0) == 0);
    CHECK(at(o, "127.0.0.2")["date_offset_s"].get<double>() < 2.0);
    CHECK(at(o, "127.0.0.3")["status"] == 503);
    CHECK(at(o, "127.0.0.3")["blocked"] == true);
    CHECK(at(o, "127.0.0.3")["attempts"].size() == 3);
  }

  SUBCASE("301 is a redirect finding with its Location, on both addresses") {
    auto o = run_http({{"url", base + "/old"}, {"proxy", "direct"}}, dns.server());
    INFO(o.details.dump());
    CHECK(codes(o) == std::vector<std::string>{"http.redirect", "http.redirect"});
    CHECK(at(o, "127.0.0.2")["status"] == 301);
    CHECK(at(o, "127.0.0.2")["location"] == "https://elsewhere.example.test/new");
    CHECK(at(o, "127.0.0.3")["location"] == "https://elsewhere.example.test/new");
  }

  SUBCASE("a 3 s delay on one address is slow, the other answers") {
    auto o = run_http({{"url", base + "/slow"}, {"proxy", "direct"}, {"tries", 1}}, dns.server());
    INFO(o.details.dump());
    REQUIRE(codes(o) == std::vector<std::string>{"http.slow"});
    CHECK(o.findings[0].message.find("127.0.0.3") != std::string::npos);
    double late = at(o, "127.0.0.3")["ttfb_ms"].get<double>();
    CHECK(late >= 2900);
    CHECK(late < 4500);
    CHECK(at(o, "127.0.0.2")["ttfb_ms"].get<double>() < 500);
  }

  SUBCASE("a 10 MB body stops at the read limit") {
    auto o = run_http({{"url", fmt::format("http://127.0.0.2:{}/big", nginx.port)}, {"proxy", "direct"}}, dns.server());
    INFO(o.details.dump());
    CHECK(codes(o) == std::vector<std::string>{"http.body_too_large"});
    CHECK(at(o, "127.0.0.2")["body"] == "too_large");
  }

  SUBCASE("through squid as an explicit proxy: CONNECT to each address, said in the details") {
    if (!have_program("/usr/sbin/squid")) CALLREADY_SKIP("squid is not installed");
    TempDir sq;
    unsigned short proxy_port = free_port();
    sq.write("squid.conf", fmt::format("http_port 127.0.0.1:{}\nacl all src all\nhttp_access allow all\n"
                                       "pid_filename {}\naccess_log none\ncache_log {}\ncache deny all\n"
                                       "cache_mem 8 MB\ncoredump_dir {}\nshutdown_lifetime 0 seconds\n",
                                       proxy_port, sq.file("squid.pid"), sq.file("cache.log"), sq.path()));
    ChildProcess squid({"/usr/sbin/squid", "-N", "-f", sq.file("squid.conf")}, sq.file("stderr.log"));
    REQUIRE_MESSAGE(wait_for_tcp("127.0.0.1", proxy_port, std::chrono::seconds(10)), squid.log());
    auto o = run_http({{"url", base + "/"}, {"proxy", fmt::format("http://127.0.0.1:{}", proxy_port)}, {"tries", 1}},
                      dns.server());
    INFO(o.details.dump());
    CHECK(o.details["proxy"] == fmt::format("http://127.0.0.1:{}/", proxy_port));
    CHECK(o.details["proxy_source"] == "params");
    CHECK(at(o, "127.0.0.2")["status"] == 200);
    CHECK(at(o, "127.0.0.3")["status"] == 503);
    CHECK(codes(o) == std::vector<std::string>{"http.server_error"});
    CHECK(o.summary.find("through proxy") != std::string::npos);
  }

  SUBCASE("SRV: every address behind every target, in RFC 2782 order, at the targets' port") {
    // Priority 20 listed first: the order comes from the records, not from dnsmasq.
    std::string port = std::to_string(nginx.port);
    Dnsmasq srv({"--local=/example.test/",
                 "--srv-host=_xsi-client._tcp.app.example.test,xsp2.example.test," + port + ",20,10",
                 "--srv-host=_xsi-client._tcp.app.example.test,xsp1.example.test," + port + ",10,10",
                 "--srv-host=_xsi-client._tcp.app.example.test,gone.example.test," + port + ",30,10",
                 "--host-record=xsp1.example.test,127.0.0.2", "--host-record=xsp2.example.test,127.0.0.3"});
    auto o = run_http({{"url", "http://app.example.test/com.broadsoft.xsi-actions/v2.0/versions"},
                       {"srv", "_xsi-client._tcp.app.example.test"},
                       {"proxy", "direct"}},
                      srv.server());
    INFO(o.details.dump());
    CHECK(!o.error);
    CHECK(codes(o) == std::vector<std::string>{"http.server_error", "http.srv_target_no_address"});
    const auto& targets = o.details["srv"]["targets"];
    REQUIRE(targets.size() == 3);
    CHECK(targets[0]["target"] == "xsp1.example.test");
    CHECK(targets[1]["target"] == "xsp2.example.test");
    CHECK(targets[2]["target"] == "gone.example.test");
    CHECK(targets[2]["failure"] == "nxdomain");
    const auto& addresses = o.details["addresses"];
    REQUIRE(addresses.size() == 2);
    CHECK(addresses[0]["target"] == "xsp1.example.test");
    CHECK(addresses[0]["address"] == "127.0.0.2");
    CHECK(addresses[0]["port"] == nginx.port);
    CHECK(addresses[0]["status"] == 200);
    CHECK(addresses[1]["target"] == "xsp2.example.test");
    CHECK(addresses[1]["status"] == 503);
    CHECK(addresses[1]["blocked"] == true);
    CHECK(o.findings[0].message.find("xsp2.example.test (127.0.0.3 port " + port + ")") != std::string::npos);
    // The same records in the same order as the dns kind reports them: one SRV implementation.
    auto d = run_kind(checks::dns_check_kind(), {{"name", "_xsi-client._tcp.app.example.test"}, {"type", "SRV"}},
                      srv.server());
    INFO(d.details.dump());
    REQUIRE(d.details["answers"].size() == targets.size());
    for (std::size_t i = 0; i < targets.size(); ++i) CHECK(d.details["answers"][i]["target"] == targets[i]["target"]);

    // No SRV record: the URL host's A/AAAA, as the app falls back to.
    auto fallback = run_http({{"url", "http://xsp1.example.test:" + port + "/"},
                              {"srv", "_xsi-client._tcp.nosrv.example.test"},
                              {"proxy", "direct"}},
                             srv.server());
    INFO(fallback.details.dump());
    CHECK(codes(fallback) == std::vector<std::string>{"http.srv_fallback"});
    CHECK(fallback.details["srv"]["fallback"] == true);
    CHECK(fallback.details["addresses"][0]["status"] == 200);
  }

  SUBCASE("ssl_verify_client: a client certificate is requested, naming its CA") {
    auto o = run_http({{"url", fmt::format("https://127.0.0.1:{}/", nginx.tls_port)},
                       {"proxy", "direct"},
                       {"require_client_cert", true},
                       {"ca_file", tls::pki().file("root.pem")}},
                      dns.server());
    INFO(o.details.dump());
    const auto& a = at(o, "127.0.0.1");
    CHECK(a["client_cert_requested"] == true);
    CHECK(a["client_ca_names"] == json::array({"CN=Callready Client CA,O=Callready Test"}));
    CHECK(a["status"] == 400);  // nginx: "No required SSL certificate was sent"
    CHECK(a["tls_version"] == "TLSv1.3");
    CHECK(codes(o).empty());
  }
}

TEST_CASE("openssl s_server -Verify: mutual TLS enforced is what require_client_cert asks for") {
  if (!have_program("openssl")) CALLREADY_SKIP("openssl is not installed");
  const auto& pki = tls::pki();
  unsigned short port = free_port();
  ChildProcess server({"openssl", "s_server", "-quiet", "-www", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                       pki.file("leaf.pem"), "-key", pki.file("leaf.key"), "-cert_chain", pki.file("inter.pem"),
                       "-CAfile", pki.file("clientca.pem"), "-Verify", "1"},
                      pki.file("s_server_mtls_" + std::to_string(port) + ".log"));
  REQUIRE_MESSAGE(wait_for_tcp("127.0.0.1", port, std::chrono::seconds(5)), server.log());
  json params = {{"url", fmt::format("https://127.0.0.1:{}/", port)},
                 {"proxy", "direct"},
                 {"ca_file", pki.file("root.pem")},
                 {"tries", 1}};
  SUBCASE("required: the refusal without a certificate passes") {
    params["require_client_cert"] = true;
    auto o = run_http(params, "127.0.0.1:9");
    INFO(o.details.dump());
    CHECK(codes(o).empty());
    const auto& a = at(o, "127.0.0.1");
    CHECK(a["client_cert_requested"] == true);
    CHECK(a["refused_without_certificate"] == true);
    CHECK(a["blocked"] == false);
    CHECK(a["client_ca_names"] == json::array({"CN=Callready Client CA,O=Callready Test"}));
    CHECK(o.summary.find("demands a client certificate") != std::string::npos);
  }
  SUBCASE("not required: clients without a certificate are refused") {
    auto o = run_http(params, "127.0.0.1:9");
    INFO(o.details.dump());
    CHECK(codes(o) == std::vector<std::string>{"http.client_cert_demanded"});
    CHECK(o.findings[0].severity == Severity::critical);
  }
}

namespace {

// A server that answers every connection with `reply` and then, for
// `trickle`, one more piece every 100 ms (bounded: 200 pieces) until the
// client leaves: the misbehaving servers no real one imitates on purpose.
struct BadServer {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};
  std::thread thread;
  BadServer(std::string reply, std::string trickle) {
    asio::co_spawn(io, serve(std::move(reply), std::move(trickle)), asio::detached);
    thread = std::thread([this] { io.run(); });
  }
  ~BadServer() {
    io.stop();
    thread.join();
  }
  unsigned short port() const { return acceptor.local_endpoint().port(); }

  asio::awaitable<void> serve(std::string reply, std::string trickle) {
    for (;;) {
      auto s = std::make_shared<asio::ip::tcp::socket>(co_await acceptor.async_accept(asio::use_awaitable));
      asio::co_spawn(io, answer(s, reply, trickle), asio::detached);
    }
  }
  static asio::awaitable<void> answer(std::shared_ptr<asio::ip::tcp::socket> s, std::string reply,
                                      std::string trickle) {
    std::string request;
    auto [rec, n] = co_await asio::async_read_until(*s, asio::dynamic_buffer(request, 8192), "\r\n\r\n",
                                                    asio::as_tuple(asio::use_awaitable));
    if (rec) co_return;
    if (!reply.empty()) co_await asio::async_write(*s, asio::buffer(reply), asio::as_tuple(asio::use_awaitable));
    asio::steady_timer pause(s->get_executor());
    for (int i = 0; i < 200 && !trickle.empty(); ++i) {
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      auto [wec, w] = co_await asio::async_write(*s, asio::buffer(trickle), asio::as_tuple(asio::use_awaitable));
      if (wec) co_return;
    }
    char c;
    co_await s->async_read_some(asio::buffer(&c, 1), asio::as_tuple(asio::use_awaitable));  // until the client leaves
  }
};

CheckOutcome fetch_from(BadServer& server, json extra = json::object()) {
  json params = {{"url", fmt::format("http://127.0.0.1:{}/", server.port())}, {"proxy", "direct"}, {"tries", 1}};
  params.update(extra);
  return run_http(params, "127.0.0.1:9");  // no name to resolve: the server is an IP literal
}

}  // namespace

TEST_CASE("malformed answers: bounded reads, named findings") {
  SUBCASE("no status line") {
    BadServer server("SSH-2.0-OpenSSH_9.2\r\nhello\r\n\r\n", "");
    auto o = fetch_from(server);
    INFO(o.details.dump());
    CHECK(codes(o) == std::vector<std::string>{"http.no_status_line"});
    CHECK(o.findings[0].operation == Operation::parse);
  }
  SUBCASE("a header that never ends") {
    BadServer server("HTTP/1.1 200 OK\r\n", "X-Pad: " + std::string(4000, 'a') + "\r\n");
    auto o = fetch_from(server, {{"answer_timeout_ms", 30000}});
    INFO(o.details.dump());
    CHECK(codes(o) == std::vector<std::string>{"http.header_too_large"});
  }
  SUBCASE("a chunked body that never ends") {
    BadServer server("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "1\r\nx\r\n");
    auto o = fetch_from(server);
    INFO(o.details.dump());
    CHECK(codes(o) == std::vector<std::string>{"http.body_incomplete"});
    CHECK(at(o, "127.0.0.1")["status"] == 200);
    CHECK(at(o, "127.0.0.1")["body"] == "timeout");
  }
  SUBCASE("silence is a timeout") {
    BadServer server("", "");
    auto o = fetch_from(server, {{"answer_timeout_ms", 500}});
    INFO(o.details.dump());
    CHECK(codes(o) == std::vector<std::string>{"http.timeout"});
    CHECK(o.findings[0].operation == Operation::receive);
  }
}
