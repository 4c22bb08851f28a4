#include "checks/common/framed_echo.hpp"

#include <algorithm>

namespace callready::checks::framed {

bool length_ok(std::size_t length) { return length >= echo::kMinDatagram && length <= echo::kMaxDatagram; }

std::vector<std::uint8_t> frame(std::span<const std::uint8_t> datagram) {
  std::vector<std::uint8_t> framed(2 + datagram.size());
  boost::endian::store_big_u16(framed.data(), static_cast<std::uint16_t>(datagram.size()));
  std::copy(datagram.begin(), datagram.end(), framed.begin() + 2);
  return framed;
}

std::vector<std::uint8_t> framed_request(echo::Request request, std::string_view token) {
  if (request.sent_us == 0) request.sent_us = echo::now_us();
  return frame(echo::encode_request(request, token));
}

std::vector<std::uint8_t> framed_reply(const echo::Request& request, const echo::Observation& seen,
                                       std::string_view token, const echo::ReplyMarks& marks) {
  return frame(echo::encode_reply(request, seen, token, marks));
}

}  // namespace callready::checks::framed
