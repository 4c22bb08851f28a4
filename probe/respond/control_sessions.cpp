#include "probe/respond/control_sessions.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>

namespace callready::respond {

boost::asio::ip::address plain_address(const boost::asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
  return a;
}

std::size_t ControlSessions::AddressHash::operator()(const boost::asio::ip::address& a) const {
  if (a.is_v4()) return std::hash<std::uint32_t>()(a.to_v4().to_uint());
  auto bytes = a.to_v6().to_bytes();
  std::uint64_t hi = 0, lo = 0;
  std::memcpy(&hi, bytes.data(), 8);
  std::memcpy(&lo, bytes.data() + 8, 8);
  return std::hash<std::uint64_t>()(hi ^ (lo * 0x9e3779b97f4a7c15ull));
}

std::chrono::seconds ControlSessions::open(const boost::asio::ip::address& client, std::chrono::seconds lifetime,
                                           Clock::time_point now) {
  lifetime = std::clamp(lifetime, std::chrono::seconds(1), kMaxLifetime);
  auto key = plain_address(client);
  if (!ends_.contains(key) && ends_.size() >= kMaxSessions) {
    expire(now);
    if (ends_.size() >= kMaxSessions)
      ends_.erase(std::min_element(ends_.begin(), ends_.end(),
                                   [](const auto& a, const auto& b) { return a.second < b.second; }));
  }
  auto [it, added] = ends_.try_emplace(key, now + lifetime);
  if (!added) it->second = std::max(it->second, now + lifetime);
  return lifetime;
}

bool ControlSessions::is_open(const boost::asio::ip::address& client, Clock::time_point now) const {
  auto it = ends_.find(plain_address(client));
  return it != ends_.end() && now < it->second;
}

void ControlSessions::expire(Clock::time_point now) {
  std::erase_if(ends_, [now](const auto& entry) { return entry.second <= now; });
}

}  // namespace callready::respond
