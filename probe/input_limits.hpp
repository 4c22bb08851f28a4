#pragma once
// Bounds on what the CLI reads from files people mail around (profiles,
// reports, CA files): a size cap on every read, a nesting-depth and
// string-length cap on every JSON parse, and messages that print hostile
// bytes escaped. Everything built on the parsed JSON may then recurse and
// copy freely: the depth was bounded before anything else saw it.
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace callready {

inline constexpr std::size_t kMaxProfileBytes = 4u << 20;  // built-ins are < 64 KiB
inline constexpr std::size_t kMaxReportBytes = 64u << 20;  // thousands of checks with details
inline constexpr std::size_t kMaxCaFileBytes = 4u << 20;   // a PEM bundle of every public root is ~220 KiB
inline constexpr int kMaxJsonDepth = 64;                   // profiles nest ~6 deep, reports ~10
inline constexpr std::size_t kMaxJsonString = 1u << 20;    // one string (key or value)

struct FileRead {
  std::optional<std::string> contents;
  std::string error;  // set when contents is empty: "<path>: <why>"
};

// Reads at most `max_bytes`; a longer file (or an endless one: /dev/zero, a
// FIFO) is refused with the cap named, after reading max_bytes + 1.
FileRead read_file_capped(const std::string& path, std::size_t max_bytes, const char* what);

struct JsonLimits {
  int max_depth = kMaxJsonDepth;
  std::size_t max_string = kMaxJsonString;
};

struct JsonParse {
  std::optional<nlohmann::json> value;
  std::string error;  // "invalid JSON: ..." / "nested deeper than 64 levels at line L, column C" / ...
};

// nlohmann's parser is iterative, but copying, converting and walking the
// result recurse: the depth is bounded here, at parse time. Number overflow
// (1e400) and invalid UTF-8 come back as errors, never as exceptions.
JsonParse parse_json_bounded(std::string_view text, const JsonLimits& limits = {});

// Bytes from input in an error message: printable ASCII as is, anything
// else (control bytes, invalid UTF-8, even valid non-ASCII) as \xNN, and cut
// to `max_chars` with "..." so a 30 KB id does not flood the terminal.
std::string escape_for_message(std::string_view bytes, std::size_t max_chars = 200);

}  // namespace callready
