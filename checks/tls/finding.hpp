#pragma once
// One way to write a Finding for every part of the tls check.
#include <string>
#include <utility>

#include "probe/model.hpp"

namespace callready::checks::tls {

inline Finding make_finding(Severity s, std::string code, std::string message, std::string remediation) {
  Finding f;
  f.severity = s;
  f.code = std::move(code);
  f.message = std::move(message);
  f.remediation = std::move(remediation);
  return f;
}

}  // namespace callready::checks::tls
