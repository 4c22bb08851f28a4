// The STUN codec against the RFC 5769 test vectors, and against malformed
// input it must reject with a reason (run under ASan: -DASAN=ON).
#include "checks/stun/stun_codec.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>

namespace stun = callready::checks::stun;
using stun::Bytes;

namespace {

Bytes hex(const std::string& s) {
  Bytes out;
  int hi = -1;
  for (char c : s) {
    int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (v < 0) continue;
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}

// RFC 5769 §2.1 Sample Request (short-term credentials, FINGERPRINT). The
// RFC pads SOFTWARE and USERNAME with 0x20 on purpose.
const Bytes kRequest =
    hex("00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
        "80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74"
        "00 24 00 04 6e 00 01 ff"
        "80 29 00 08 93 2f f9 b1 51 26 3b 36"
        "00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20"
        "00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2"
        "80 28 00 04 e5 7a 3b cf");

// §2.2 Sample IPv4 Response: XOR-MAPPED-ADDRESS 192.0.2.1:32853.
const Bytes kIpv4Response =
    hex("01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
        "80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20"
        "00 20 00 08 00 01 a1 47 e1 12 a6 43"
        "00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7"
        "80 28 00 04 c0 7d 4c 96");

// §2.3 Sample IPv6 Response: XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853.
const Bytes kIpv6Response =
    hex("01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
        "80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20"
        "00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9"
        "00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41"
        "80 28 00 04 c8 fb 0b 4c");

// §2.4 Sample Request with Long-Term Authentication (no FINGERPRINT).
const Bytes kLongTermRequest =
    hex("00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e"
        "00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00"
        "00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41"
        "00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00"
        "00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66");

const std::string kShortTermPassword = "VOkJxbRl1RmTxUk/WvJxBt";
const stun::TransactionId kVectorId{0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

stun::Message must_parse(const Bytes& b) {
  auto r = stun::parse(b);
  INFO(r.error);
  REQUIRE(r);
  return *r.message;
}

std::string rejection(const Bytes& b) {
  auto r = stun::parse(b);
  CHECK_FALSE(r);
  CHECK_FALSE(r.error.empty());
  return r.error;
}

void put16(Bytes& b, std::size_t at, unsigned v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}

}  // namespace

TEST_CASE("RFC 5769 2.1 sample request: attributes, short-term MESSAGE-INTEGRITY, FINGERPRINT") {
  auto m = must_parse(kRequest);
  CHECK(m.method == stun::kBinding);
  CHECK(m.cls == stun::MessageClass::request);
  CHECK(m.transaction_id == kVectorId);
  CHECK(m.fingerprint_verified);
  REQUIRE(m.find(stun::attr::software));
  CHECK(stun::read_string(*m.find(stun::attr::software)) == "STUN test client");
  REQUIRE(m.find(stun::attr::username));
  CHECK(stun::read_string(*m.find(stun::attr::username)) == "evtj:h6vY");
  CHECK(stun::verify_message_integrity(m, stun::short_term_key(kShortTermPassword)));
  CHECK_FALSE(stun::verify_message_integrity(m, stun::short_term_key("VOkJxbRl1RmTxUk/WvJxBT")));
  // PRIORITY (0x0024) and ICE-CONTROLLED (0x8029) are ICE's; only the former is comprehension-required.
  CHECK(m.unknown_comprehension_required() == std::vector<std::uint16_t>{0x0024});
}

TEST_CASE("RFC 5769 2.2 IPv4 response: XOR-MAPPED-ADDRESS 192.0.2.1:32853, and we encode it identically") {
  auto m = must_parse(kIpv4Response);
  CHECK(m.cls == stun::MessageClass::success);
  CHECK(m.fingerprint_verified);
  CHECK(stun::read_string(*m.find(stun::attr::software)) == "test vector");
  auto a = stun::read_xor_address(*m.find(stun::attr::xor_mapped_address), m.transaction_id);
  REQUIRE(a);
  CHECK(stun::to_string(*a) == "192.0.2.1:32853");
  CHECK(stun::verify_message_integrity(m, stun::short_term_key(kShortTermPassword)));

  stun::Builder b(stun::kBinding, stun::MessageClass::success, kVectorId);
  b.add_xor_address(stun::attr::xor_mapped_address, *a);
  auto mine = must_parse(b.bytes());
  CHECK(mine.find(stun::attr::xor_mapped_address)->value == m.find(stun::attr::xor_mapped_address)->value);
}

TEST_CASE("RFC 5769 2.3 IPv6 response: XOR-MAPPED-ADDRESS over IPv6") {
  auto m = must_parse(kIpv6Response);
  auto a = stun::read_xor_address(*m.find(stun::attr::xor_mapped_address), m.transaction_id);
  REQUIRE(a);
  CHECK(stun::to_string(*a) == "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
  CHECK(stun::verify_message_integrity(m, stun::short_term_key(kShortTermPassword)));
  CHECK(m.fingerprint_verified);
}

TEST_CASE("RFC 5769 2.4 long-term credentials, and a byte-exact re-encoding") {
  auto m = must_parse(kLongTermRequest);
  CHECK_FALSE(m.fingerprint_verified);  // the vector carries none
  const std::string username =
      "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";  // マトリックス
  CHECK(stun::read_string(*m.find(stun::attr::username)) == username);
  CHECK(stun::read_string(*m.find(stun::attr::nonce)) == "f//499k954d6OL34oL9FSTvy64sA");
  CHECK(stun::read_string(*m.find(stun::attr::realm)) == "example.org");
  // The RFC's password "TheM\u00aatr\u2168" is "TheMatrIX" after SASLprep.
  auto key = stun::long_term_key(username, "example.org", "TheMatrIX");
  CHECK(stun::verify_message_integrity(m, key));
  CHECK_FALSE(stun::verify_message_integrity(m, stun::long_term_key(username, "example.org", "thematrix")));

  stun::Builder b(stun::kBinding, stun::MessageClass::request, m.transaction_id);
  b.add_string(stun::attr::username, username)
      .add_string(stun::attr::nonce, "f//499k954d6OL34oL9FSTvy64sA")
      .add_string(stun::attr::realm, "example.org")
      .add_message_integrity(key);
  CHECK(b.bytes() == kLongTermRequest);
}

TEST_CASE("builder round trip: RFC 5780 attributes, error code, integrity then fingerprint") {
  auto id = stun::random_transaction_id();
  stun::Endpoint v4(boost::asio::ip::make_address("203.0.113.10"), 3478);
  stun::Endpoint v6(boost::asio::ip::make_address("2001:db8::1"), 65535);
  stun::Builder b(stun::kBinding, stun::MessageClass::error, id);
  b.add_error_code(420, "Unknown Attribute")
      .add_unknown_attributes({0x0024, 0x7fff})
      .add_change_request(true, false)
      .add_response_port(40000)
      .add_address(stun::attr::other_address, v6)
      .add_address(stun::attr::response_origin, v4)
      .add_string(stun::attr::software, "callready")
      .add_message_integrity(stun::short_term_key("secret"))
      .add_fingerprint();
  auto m = must_parse(b.bytes());
  CHECK(m.cls == stun::MessageClass::error);
  CHECK(m.transaction_id == id);
  auto ec = stun::read_error_code(*m.find(stun::attr::error_code));
  REQUIRE(ec);
  CHECK(ec->code == 420);
  CHECK(ec->reason == "Unknown Attribute");
  CHECK(stun::read_unknown_attributes(*m.find(stun::attr::unknown_attributes)) ==
        std::vector<std::uint16_t>{0x0024, 0x7fff});
  auto cr = stun::read_change_request(*m.find(stun::attr::change_request));
  REQUIRE(cr);
  CHECK(cr->change_ip);
  CHECK_FALSE(cr->change_port);
  CHECK(stun::read_response_port(*m.find(stun::attr::response_port)) == 40000);
  CHECK(stun::read_address(*m.find(stun::attr::other_address)) == v6);
  CHECK(stun::read_address(*m.find(stun::attr::response_origin)) == v4);
  CHECK(m.fingerprint_verified);
  CHECK(stun::verify_message_integrity(m, stun::short_term_key("secret")));
  CHECK_FALSE(stun::verify_message_integrity(m, stun::short_term_key("Secret")));
  CHECK(m.unknown_comprehension_required().empty());
}

TEST_CASE("attributes after MESSAGE-INTEGRITY other than FINGERPRINT are ignored") {
  auto id = stun::random_transaction_id();
  stun::Builder b(stun::kBinding, stun::MessageClass::request, id);
  b.add_message_integrity(stun::short_term_key("k")).add_string(stun::attr::software, "late");
  auto m = must_parse(b.bytes());
  CHECK(m.find(stun::attr::software) == nullptr);
  CHECK(stun::verify_message_integrity(m, stun::short_term_key("k")));
}

TEST_CASE("malformed input is rejected with a reason") {
  SUBCASE("truncated header") {
    CHECK(rejection(Bytes(kRequest.begin(), kRequest.begin() + 19)).find("truncated header") != std::string::npos);
  }
  SUBCASE("empty") { CHECK(rejection(Bytes{}).find("truncated header") != std::string::npos); }
  SUBCASE("wrong magic cookie") {
    auto b = kIpv4Response;
    b[4] = 0x21;
    b[7] = 0x43;
    CHECK(rejection(b).find("magic cookie") != std::string::npos);
  }
  SUBCASE("first two bits set") {
    auto b = kIpv4Response;
    b[0] |= 0x80;
    CHECK(rejection(b).find("first two bits") != std::string::npos);
  }
  SUBCASE("length not a multiple of 4") {
    auto b = kIpv4Response;
    put16(b, 2, 0x3d);
    CHECK(rejection(b).find("multiple of 4") != std::string::npos);
  }
  SUBCASE("length longer than the datagram") {
    auto b = kIpv4Response;
    put16(b, 2, 0x40);
    CHECK(rejection(b).find("disagrees") != std::string::npos);
  }
  SUBCASE("datagram truncated inside an attribute") {
    Bytes b(kIpv4Response.begin(), kIpv4Response.end() - 12);  // FINGERPRINT and 4 bytes of MESSAGE-INTEGRITY gone
    CHECK(rejection(b).find("disagrees") != std::string::npos);
    put16(b, 2, static_cast<unsigned>(b.size() - 20));
    // Now the header agrees, but MESSAGE-INTEGRITY (20 bytes) runs past the end.
    CHECK(rejection(b).find("runs past the end") != std::string::npos);
  }
  SUBCASE("attribute length running past the end") {
    auto b = kIpv4Response;
    put16(b, 22, 0x00ff);  // SOFTWARE claims 255 bytes
    CHECK(rejection(b).find("runs past the end") != std::string::npos);
  }
  SUBCASE("a TCP frame header cut short") {
    // With lengths a multiple of 4 an attribute header cannot be cut in half
    // inside a datagram; on a stream the header itself can be.
    CHECK(stun::frame_length(Bytes(kRequest.begin(), kRequest.begin() + 10)).error.find("truncated header") !=
          std::string::npos);
    CHECK(stun::frame_length(kRequest).total == kRequest.size());
  }
  SUBCASE("bad fingerprint") {
    auto b = kIpv4Response;
    b.back() ^= 0x01;
    CHECK(rejection(b).find("FINGERPRINT") != std::string::npos);
  }
  SUBCASE("a flipped bit anywhere before the fingerprint breaks it") {
    auto b = kRequest;
    b[30] ^= 0x10;  // inside SOFTWARE
    CHECK(rejection(b).find("FINGERPRINT") != std::string::npos);
  }
  SUBCASE("attribute after FINGERPRINT") {
    stun::Builder builder(stun::kBinding, stun::MessageClass::request, stun::random_transaction_id());
    Bytes b = builder.add_fingerprint().bytes();
    std::size_t fp = b.size() - 8;
    b.insert(b.end(), {0x80, 0x22, 0x00, 0x00});
    put16(b, 2, static_cast<unsigned>(b.size() - 20));
    // Recompute the CRC over the new header so that only the ordering is wrong.
    std::uint32_t crc = stun::crc32(stun::ByteView(b.data(), fp)) ^ stun::kFingerprintXor;
    for (int i = 0; i < 4; ++i) b[fp + 4 + i] = static_cast<std::uint8_t>(crc >> (24 - 8 * i));
    CHECK(rejection(b).find("follows FINGERPRINT") != std::string::npos);
  }
  SUBCASE("address attribute with a bad family or length") {
    auto b = kIpv4Response;
    b[45] = 0x03;  // XOR-MAPPED-ADDRESS family
    auto r = stun::parse(b);
    CHECK_FALSE(r);  // fingerprint breaks first or the family check; either way a reason
    CHECK_FALSE(r.error.empty());
    auto id = stun::random_transaction_id();
    stun::Builder builder(stun::kBinding, stun::MessageClass::success, id);
    Bytes v6_in_v4{0, 1, 0x0d, 0x96, 1, 2, 3, 4, 5, 6, 7, 8};  // family 1 but 12 bytes
    builder.add(stun::attr::xor_mapped_address, v6_in_v4);
    CHECK(rejection(builder.bytes()).find("does not fit address family") != std::string::npos);
  }
  SUBCASE("MESSAGE-INTEGRITY of the wrong size") {
    auto id = stun::random_transaction_id();
    stun::Builder builder(stun::kBinding, stun::MessageClass::request, id);
    builder.add(stun::attr::message_integrity, Bytes(16, 0));
    CHECK(rejection(builder.bytes()).find("must be 20") != std::string::npos);
  }
  SUBCASE("error code out of range") {
    auto id = stun::random_transaction_id();
    stun::Builder builder(stun::kBinding, stun::MessageClass::error, id);
    builder.add(stun::attr::error_code, Bytes{0, 0, 7, 0});
    CHECK(rejection(builder.bytes()).find("out of range") != std::string::npos);
  }
}

TEST_CASE("fuzz-shaped input: truncations, bit flips and random bytes never crash") {
  std::mt19937 rng(5769);  // fixed seed: a failure reproduces
  const std::vector<Bytes> seeds{kRequest, kIpv4Response, kIpv6Response, kLongTermRequest};
  int accepted = 0, rejected = 0;
  auto probe = [&](const Bytes& b) {
    auto r = stun::parse(b);
    if (!r) {
      ++rejected;
      CHECK_FALSE(r.error.empty());
      return;
    }
    ++accepted;
    const auto& m = *r.message;
    for (const auto& a : m.attributes) {
      CHECK(a.offset + 4 + a.value.size() <= m.raw.size());
      (void)stun::read_address(a);
      (void)stun::read_xor_address(a, m.transaction_id);
      (void)stun::read_error_code(a);
      (void)stun::read_change_request(a);
      (void)stun::read_unknown_attributes(a);
    }
    (void)stun::verify_message_integrity(m, stun::short_term_key("k"));
    (void)m.unknown_comprehension_required();
  };
  for (int i = 0; i < 20000; ++i) {
    const Bytes& seed = seeds[i % seeds.size()];
    Bytes b;
    switch (i % 4) {
      case 0:
        b.resize(rng() % 200);
        for (auto& x : b) x = static_cast<std::uint8_t>(rng());
        break;
      case 1:
        b.assign(seed.begin(), seed.begin() + static_cast<std::ptrdiff_t>(rng() % seed.size()));
        break;
      case 2:
        b = seed;
        for (int k = 0; k < 1 + i % 5; ++k) b[rng() % b.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
        break;
      default: {  // a valid header over random attribute soup, lengths consistent
        stun::Builder builder(stun::kBinding, stun::MessageClass::success, stun::random_transaction_id());
        b = builder.bytes();
        std::size_t body = 4 * (rng() % 40);
        for (std::size_t k = 0; k < body; ++k) b.push_back(static_cast<std::uint8_t>(rng() % 4 ? rng() % 8 : rng()));
        put16(b, 2, static_cast<unsigned>(body));
      }
    }
    probe(b);
  }
  // The untouched vectors parse; almost everything else is turned away.
  for (const auto& s : seeds) CHECK(stun::parse(s));
  CHECK(rejected > 10000);
  CHECK(accepted > 0);
}
