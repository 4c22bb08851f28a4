#include "probe/input_limits.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace callready {

namespace {

struct LimitExceeded : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one
// (overlong forms, surrogates and values past U+10FFFF included).
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  std::size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
  if (n == 0 || c > 0xF4 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  unsigned char second = byte(i + 1);
  if (c == 0xE0 && second < 0xA0) return 0;  // overlong
  if (c == 0xED && second > 0x9F) return 0;  // surrogate
  if (c == 0xF0 && second < 0x90) return 0;  // overlong
  if (c == 0xF4 && second > 0x8F) return 0;  // past U+10FFFF
  return n;
}

}  // namespace

FileRead read_file_capped(const std::string& path, std::size_t max_bytes, const char* what) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return {std::nullopt, fmt::format("{}: cannot read: {}", escape_for_message(path), std::strerror(errno))};
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string err = fmt::format("{}: read failed: {}", escape_for_message(path), std::strerror(errno));
      ::close(fd);
      return {std::nullopt, err};
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max_bytes) {
      ::close(fd);
      return {std::nullopt, fmt::format("{}: larger than the {} KiB a {} may have", escape_for_message(path),
                                        max_bytes / 1024, what)};
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return {std::move(out), {}};
}

JsonParse parse_json_bounded(std::string_view text, const JsonLimits& limits) {
  using nlohmann::json;
  json::parser_callback_t bound = [&limits](int depth, json::parse_event_t event, json& parsed) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= limits.max_depth)
      throw LimitExceeded(fmt::format("nested deeper than {} levels", limits.max_depth));
    if ((event == json::parse_event_t::key || event == json::parse_event_t::value) && parsed.is_string() &&
        parsed.get_ref<const std::string&>().size() > limits.max_string)
      throw LimitExceeded(fmt::format("a string longer than {} bytes", limits.max_string));
    return true;
  };
  try {
    return {json::parse(text, bound), {}};
  } catch (const LimitExceeded& e) {
    return {std::nullopt, e.what()};
  } catch (const json::parse_error& e) {
    // nlohmann's message carries "line L, column C" and may quote the input.
    std::string what = e.what();
    auto pos = what.find("parse error");
    return {std::nullopt, "invalid JSON: " + escape_for_message(pos == std::string::npos ? what : what.substr(pos))};
  } catch (const json::exception& e) {  // out_of_range.406: a number that overflows a double
    std::string what = e.what();
    auto pos = what.find("] ");
    return {std::nullopt,
            "invalid JSON: " + escape_for_message(pos == std::string::npos ? what : what.substr(pos + 2))};
  }
}

std::string escape_for_message(std::string_view bytes, std::size_t max_chars) {
  std::string out;
  std::size_t i = 0;
  while (i < bytes.size() && out.size() < max_chars) {
    auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
      ++i;
    } else if (std::size_t n = c >= 0x80 ? utf8_sequence(bytes, i) : 0; n > 0) {
      out.append(bytes.substr(i, n));
      i += n;
    } else {
      out += fmt::format("\\x{:02x}", c);
      ++i;
    }
  }
  if (i < bytes.size()) out += fmt::format("... ({} bytes)", bytes.size());
  return out;
}

}  // namespace callready
