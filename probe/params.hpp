#pragma once
// Typed, validating access to a check's `params` object. Every error names the
// JSON path below `params` ("port: expected an integer 1-65535"); the profile
// loader prefixes "checks[N].params.". Unknown keys are errors too, so a typo
// in a profile is caught at load rather than silently ignored.
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace callready {

struct ParamError {
  std::string path;  // relative to params, e.g. "port" or "ports[2]"
  std::string message;
};

class ParamReader {
 public:
  explicit ParamReader(const nlohmann::json& params);

  std::string string(const std::string& key);  // required
  std::optional<std::string> opt_string(const std::string& key);
  std::string string_or(const std::string& key, std::string fallback);
  // One of `allowed`; `fallback` when absent (required when fallback is empty).
  std::string choice(const std::string& key, std::initializer_list<const char*> allowed, std::string fallback = {});

  // Integers also accept a decimal string, because `${var}` substitution yields strings.
  long long integer(const std::string& key, long long min, long long max);
  std::optional<long long> opt_integer(const std::string& key, long long min, long long max);
  long long integer_or(const std::string& key, long long min, long long max, long long fallback);
  std::uint16_t port(const std::string& key) { return static_cast<std::uint16_t>(integer(key, 1, 65535)); }
  std::uint16_t port_or(const std::string& key, std::uint16_t fallback) {
    return static_cast<std::uint16_t>(integer_or(key, 1, 65535, fallback));
  }
  bool boolean_or(const std::string& key, bool fallback);
  // A string or a list of strings (both spellings are natural in profiles).
  std::vector<std::string> string_list_or(const std::string& key, std::vector<std::string> fallback = {});
  // Raw access for kind-specific structures; marks the key as known.
  const nlohmann::json* raw(const std::string& key);

  // Reports keys nobody asked for. Call after reading every parameter.
  void finish();

  void error(std::string path, std::string message) { errors_.push_back({std::move(path), std::move(message)}); }
  bool ok() const { return errors_.empty(); }
  const std::vector<ParamError>& errors() const { return errors_; }

 private:
  const nlohmann::json* find(const std::string& key);
  const nlohmann::json& params_;
  std::set<std::string> seen_;
  std::vector<ParamError> errors_;
};

// Parameters the engine reads for every kind, not passed on to the check.
inline constexpr const char* kTimeoutParam = "timeout_ms";

}  // namespace callready
