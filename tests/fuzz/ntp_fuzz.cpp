// fuzz-link: check_ntp
// NTP (RFC 5905): the header parser on whatever a server (or anyone on the
// path) sends back, the checks a reply must pass against our request's nonce,
// the reference id's two readings, and the era arithmetic on its timestamps.
// What parsed encodes back to the same 48 bytes; a timestamp resolved against
// a clock within the 2036 era boundary's reach maps back to itself.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "checks/ntp/ntp_codec.hpp"
#include "tests/fuzz/fuzz_target.hpp"

using namespace callready::checks::ntp;

namespace {

// A plausible clock to resolve eras against: 1970..2106 (both eras), from
// the input's last 8 bytes (a real client's clock is never out there).
std::int64_t pivot_of(const std::uint8_t* data, std::size_t size) {
  std::uint64_t v = 0;
  if (size >= 8) std::memcpy(&v, data + size - 8, 8);
  constexpr std::uint64_t kSpan = 136ull * 365 * 86400 * 1'000'000'000ull;
  return static_cast<std::int64_t>(v % kSpan);
}

}  // namespace

CALLREADY_FUZZ_TARGET(ntp) {
  ByteView bytes(data, size);
  auto parsed = parse(bytes);
  CALLREADY_FUZZ_CHECK(parsed.packet.has_value() == (size >= callready::checks::ntp::kHeaderSize));
  if (!parsed) return 0;
  const auto& p = *parsed.packet;
  auto again = encode(p);
  CALLREADY_FUZZ_CHECK(again.size() == callready::checks::ntp::kHeaderSize &&
                       std::equal(again.begin(), again.end(), data));

  // As a reply: to a request whose nonce it echoes, and to one it does not.
  for (auto nonce : {p.origin, Timestamp::from_raw(p.origin.raw() ^ 1)}) {
    if (nonce.zero()) continue;
    auto acceptance = accept_reply(p, nonce);
    CALLREADY_FUZZ_CHECK(acceptance.kind.has_value() == acceptance.error.empty());
    if (nonce != p.origin) CALLREADY_FUZZ_CHECK(!acceptance.kind);
  }
  (void)to_string(p.leap);
  auto text = reference_text(p.reference_id);
  CALLREADY_FUZZ_CHECK(text.size() <= 4);
  for (char c : text) CALLREADY_FUZZ_CHECK(c >= 0x20 && c <= 0x7e);
  (void)reference_address(p.reference_id);
  (void)short_format_ms(p.root_delay);
  (void)short_format_ms(p.root_dispersion);

  // The four timestamps as one exchange, and each resolved to Unix time.
  auto s = sample_of(p.reference, p.receive, p.transmit, p.origin);
  CALLREADY_FUZZ_CHECK(std::isfinite(s.offset_ms) && std::isfinite(s.delay_ms) && s.delay_ms >= 0);
  auto pivot = pivot_of(data, size);
  for (auto t : {p.reference, p.origin, p.receive, p.transmit}) {
    auto unix_ns = to_unix_ns(t, pivot);
    // Within 68 years of the clock, and the same timestamp once the era is dropped.
    CALLREADY_FUZZ_CHECK(std::llabs(unix_ns / 1'000'000'000 - pivot / 1'000'000'000) <= (1ll << 31) + 1);
    auto back = from_unix_ns(unix_ns);
    CALLREADY_FUZZ_CHECK(std::fabs(seconds_between(back, t)) < 2e-9);
  }
  return 0;
}
