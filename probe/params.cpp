#include "probe/params.hpp"

#include <charconv>

namespace callready {

ParamReader::ParamReader(const nlohmann::json& params) : params_(params) {
  seen_.insert(kTimeoutParam);
  if (!params_.is_object()) error("", "expected an object");
}

const nlohmann::json* ParamReader::find(const std::string& key) {
  seen_.insert(key);
  if (!params_.is_object()) return nullptr;
  auto it = params_.find(key);
  return it == params_.end() || it->is_null() ? nullptr : &*it;
}

const nlohmann::json* ParamReader::raw(const std::string& key) { return find(key); }

std::optional<std::string> ParamReader::opt_string(const std::string& key) {
  const auto* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_string() || v->get_ref<const std::string&>().empty()) {
    error(key, "expected a non-empty string");
    return std::nullopt;
  }
  return v->get<std::string>();
}

std::string ParamReader::string(const std::string& key) {
  if (!find(key)) {
    error(key, "required");
    return {};
  }
  return opt_string(key).value_or("");
}

std::string ParamReader::string_or(const std::string& key, std::string fallback) {
  return opt_string(key).value_or(std::move(fallback));
}

std::string ParamReader::choice(const std::string& key, std::initializer_list<const char*> allowed,
                                std::string fallback) {
  auto value = opt_string(key);
  if (!value) {
    if (fallback.empty() && !find(key)) error(key, "required");
    return fallback;
  }
  for (const char* a : allowed)
    if (*value == a) return *value;
  std::string list;
  for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  error(key, "expected one of " + list + ", got \"" + *value + "\"");
  return fallback;
}

std::optional<long long> ParamReader::opt_integer(const std::string& key, long long min, long long max) {
  const auto* v = find(key);
  if (!v) return std::nullopt;
  long long n = 0;
  bool parsed = false;
  if (v->is_number_integer()) {
    n = v->get<long long>();
    parsed = true;
  } else if (v->is_string()) {
    const auto& s = v->get_ref<const std::string&>();
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    parsed = ec == std::errc() && p == s.data() + s.size() && !s.empty();
  }
  if (!parsed || n < min || n > max) {
    error(key, "expected an integer " + std::to_string(min) + "-" + std::to_string(max));
    return std::nullopt;
  }
  return n;
}

long long ParamReader::integer(const std::string& key, long long min, long long max) {
  if (!find(key)) {
    error(key, "required");
    return min;
  }
  return opt_integer(key, min, max).value_or(min);
}

long long ParamReader::integer_or(const std::string& key, long long min, long long max, long long fallback) {
  return opt_integer(key, min, max).value_or(fallback);
}

bool ParamReader::boolean_or(const std::string& key, bool fallback) {
  const auto* v = find(key);
  if (!v) return fallback;
  if (v->is_boolean()) return v->get<bool>();
  if (v->is_string() && (*v == "true" || *v == "false")) return *v == "true";
  error(key, "expected true or false");
  return fallback;
}

std::vector<std::string> ParamReader::string_list_or(const std::string& key, std::vector<std::string> fallback) {
  const auto* v = find(key);
  if (!v) return fallback;
  if (v->is_string() && !v->get_ref<const std::string&>().empty()) return {v->get<std::string>()};
  if (!v->is_array()) {
    error(key, "expected a string or a list of strings");
    return fallback;
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v->size(); ++i) {
    const auto& e = (*v)[i];
    if (!e.is_string() || e.get_ref<const std::string&>().empty()) {
      error(key + "[" + std::to_string(i) + "]", "expected a non-empty string");
      continue;
    }
    out.push_back(e.get<std::string>());
  }
  return out;
}

void ParamReader::finish() {
  if (!params_.is_object()) return;
  for (const auto& [key, value] : params_.items())
    if (!seen_.count(key)) error(key, "unknown parameter");
}

}  // namespace callready
