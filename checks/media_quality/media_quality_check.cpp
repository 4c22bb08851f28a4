// media_quality: params, the paced stream (measurement only) and the kind.
#include "checks/media_quality/media_quality_check.hpp"

#include <fmt/format.h>
#include <openssl/rand.h>

#include <algorithm>
#include <boost/asio/ip/udp.hpp>
#include <cctype>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "checks/common/echo_client.hpp"
#include "checks/common/responder_step.hpp"
#include "checks/media_quality/media_quality_stream.hpp"
#include "probe/net/host_port.hpp"

namespace callready::checks {

namespace asio = boost::asio;
using asio::ip::udp;

std::optional<MediaCodec> media_codec(const std::string& name) {
  // G.711 with packet loss concealment (G.711 Appendix I): Ie 0, Bpl 25.1,
  // ITU-T G.113 Appendix I, on the narrowband G.107 scale.
  if (name == "g711") return MediaCodec{"g711", 20000, 172, 46, CodecImpairment{0, 25.1}, {}};
  // Opus: G.113 gives no Ie or Bpl for it, narrowband (Appendix I), wideband
  // (Appendix IV, for the G.107.1 wideband E-model) or fullband (Appendix V);
  // its Ie is still a research question ("Derivation of Equipment Impairment
  // Factors from ITU-T P.863 for Fullband Speech Codecs": "the Opus codec
  // in fullband mode, for which currently no Ie,FB values are available").
  if (name == "opus")
    return MediaCodec{"opus",
                      20000,
                      echo::kMinStreamDatagram,
                      46,
                      std::nullopt,
                      "ITU-T G.113 publishes no E-model constants (Ie, Bpl) for Opus: judged by loss, jitter and "
                      "delay alone"};
  // 1,100-byte packets at 1.5 Mbit/s: 1100 * 8 / 1.5e6 s = 5,867 us apart
  // (~170 pps). The E-model scores speech; there is no Ie or Bpl for video.
  if (name == "video")
    return MediaCodec{"video",
                      5867,
                      1100,
                      34,
                      std::nullopt,
                      "the E-model (ITU-T G.107) scores speech only: a video stream is judged by loss, jitter and "
                      "delay alone"};
  return std::nullopt;
}

namespace {

constexpr Millis kOldResponderWait{1000};  // for the echo v1 probe that tells an older responder

std::uint64_t random_session() {
  std::uint64_t s = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&s), sizeof s);
  return s;
}

std::optional<int> dscp_value(std::string name) {
  for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  static const std::map<std::string, int> names = {{"EF", 46},  {"AF41", 34}, {"AF42", 36}, {"CS3", 24},
                                                   {"CS4", 32}, {"CS5", 40},  {"CS0", 0},   {"DF", 0}};
  if (auto it = names.find(name); it != names.end()) return it->second;
  if (!name.empty() && name.size() <= 2 && std::all_of(name.begin(), name.end(), ::isdigit)) {
    int v = std::stoi(name);
    if (v <= 63) return v;
  }
  return std::nullopt;
}

double number_or(ParamReader& r, const char* key, double min, double max, double fallback) {
  const auto* j = r.raw(key);
  if (!j) return fallback;
  double v = fallback;
  if (j->is_number())
    v = j->get<double>();
  else if (j->is_string()) {
    try {
      v = std::stod(j->get<std::string>());
    } catch (const std::exception&) {
      r.error(key, fmt::format("expected a number {:g}-{:g}", min, max));
      return fallback;
    }
  } else {
    r.error(key, fmt::format("expected a number {:g}-{:g}", min, max));
    return fallback;
  }
  if (!(v >= min && v <= max)) r.error(key, fmt::format("expected a number {:g}-{:g}", min, max));
  return v;
}

// What the result says of the stream asked for (kept in the details even when it could not run).
void name_stream(MediaQualityResult& out, const MediaQualityParams& p) {
  out.host = p.host;
  out.port = p.port;
  out.codec = p.codec.name;
  out.duration_s = p.duration_s;
  out.dscp = p.dscp;
}

asio::awaitable<Measured<MediaQualityResult>> measure_media_quality(MediaQualityParams p, CheckContext& ctx) {
  Measured<MediaQualityResult> m;
  auto& out = m.result;
  name_stream(out, p);
  auto asking = resolve_and_ask(ctx, p.host, p.control_port);  // named: GCC 12 and co_await arguments
  auto step = co_await std::move(asking);
  if (!step.resolved()) {
    out.unresolved = std::move(step.lookup);
    co_return m;
  }
  if (auto setup = net::setup_error(step.info, "udp_echo", p.port)) {
    m.error = std::move(setup);
    co_return m;
  }
  udp::endpoint to(step.address(), p.port);
  out.address = to.address().to_string();
  EchoSocket socket(ctx.executor);
  EchoSocketOptions opts;
  opts.token = ctx.settings.token;
  opts.tos = p.dscp << 2;
  std::optional<CheckError> bind_error;
  auto any = to.address().is_v6() ? asio::ip::address(asio::ip::address_v6::any())
                                  : asio::ip::address(asio::ip::address_v4::any());
  // The first free source port of the range (a running call client may hold some).
  unsigned first = p.source_ports ? p.source_ports->first : 0, last = p.source_ports ? p.source_ports->last : 0;
  for (unsigned port = first; port <= last; ++port) {
    if (p.source_ports) opts.local = udp::endpoint(any, static_cast<std::uint16_t>(port));
    bind_error = socket.open(to.protocol(), opts);
    if (!bind_error) break;
  }
  if (bind_error) {
    m.error = std::move(bind_error);
    co_return m;
  }
  auto streaming = run_media_stream(socket, to, p.codec, p.duration_s, random_session(),
                                    ctx.budget(media_stream_time(p.codec, p.duration_s)));
  auto stream = co_await std::move(streaming);
  // Read after the stream: an unbound socket gets its port with its first send.
  out.source_port = socket.local_endpoint().port();
  socket.close();
  auto address = std::move(out.address);
  auto source_port = out.source_port;
  out = analyse_stream(stream.log, p.codec);
  name_stream(out, p);
  out.address = std::move(address);
  out.source_port = source_port;
  out.icmp = std::move(stream.icmp);
  if (out.replies == 0 && !stream.responder_answered) {
    // Silence: an older responder answers echo v1 but not v3 streams.
    echo::Request old_style;
    old_style.session = random_session();
    EchoSocketOptions plain;
    plain.token = ctx.settings.token;
    auto probing = echo_once(ctx.executor, to, plain, old_style, ctx.budget(kOldResponderWait));
    auto probe = co_await std::move(probing);
    if (probe.event && probe.event->kind == EchoEvent::Kind::reply)
      m.error = CheckError{ErrorReason::setup, Operation::receive,
                           fmt::format("the responder at {} answers echo probes but not media streams (echo v3): it "
                                       "is an older version; upgrade it",
                                       net::format_host_port(to.address(), to.port()))};
  }
  co_return m;
}

}  // namespace

MediaQualityParams MediaQualityParams::parse(ParamReader& r) {
  MediaQualityParams p;
  p.host = r.string("host");
  p.port = r.port_or("port", 5004);
  if (const auto* j = r.raw("source_port")) {
    // A port, or a range "A-B" as firewalls are written (8500-8599).
    try {
      auto text = j->is_string() ? j->get<std::string>() : j->is_number_integer() ? j->dump() : std::string();
      auto ranges = net::parse_port_ranges(text);
      if (ranges.size() != 1) throw std::invalid_argument("expected a port or one range A-B");
      p.source_ports = ranges.front();
    } catch (const std::exception& e) {
      r.error("source_port", e.what());
    }
  }
  auto codec = r.choice("codec", {"g711", "opus", "video"}, "g711");
  p.codec = media_codec(codec).value_or(*media_codec("g711"));
  p.duration_s = static_cast<int>(r.integer_or("duration_s", 1, 60, 10));
  p.dscp = p.codec.dscp;
  if (const auto* j = r.raw("dscp")) {
    std::optional<int> v;
    if (j->is_string())
      v = dscp_value(j->get<std::string>());
    else if (j->is_number_integer() && j->get<long long>() >= 0 && j->get<long long>() <= 63)
      v = static_cast<int>(j->get<long long>());
    if (v)
      p.dscp = *v;
    else
      r.error("dscp", "expected a DSCP value 0-63 or a class name (EF, AF41, CS3, CS0, ...)");
  }
  p.max_one_way_delay_ms = number_or(r, "max_one_way_delay_ms", 1, 10000, 150);
  p.max_rtt_ms = number_or(r, "max_rtt_ms", 1, 20000, 300);
  p.max_jitter_ms = number_or(r, "max_jitter_ms", 0, 10000, 30);
  p.max_loss_pct = number_or(r, "max_loss_pct", 0, 100, 1);
  p.mos_pass = number_or(r, "mos_pass", 1, 4.5, 4.0);
  p.mos_fail = number_or(r, "mos_fail", 1, 4.5, 3.6);
  if (p.mos_fail > p.mos_pass) r.error("mos_fail", "must not be above mos_pass");
  if (auto port = r.opt_integer("control_port", 1, 65535)) p.control_port = static_cast<std::uint16_t>(*port);
  return p;
}

std::string MediaQualityParams::target() const { return net::format_host_port(host, port); }

CheckKind media_quality_check_kind() {
  // The stream (up to 60 s) plus resolving, the control exchange and late replies.
  return make_check_kind<MediaQualityParams, MediaQualityResult>(
      "media_quality", Millis(75000),
      {&measure_media_quality, &judge_media_quality, &media_quality_view, &media_quality_metrics});
}

}  // namespace callready::checks
