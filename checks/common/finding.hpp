#pragma once
// One way for every judge to write a finding: what happened, what to change,
// and the step that failed (when one did).
#include <string>
#include <utility>

#include "probe/model.hpp"

namespace callready::checks {

inline Finding make_finding(Severity severity, std::string code, std::string message, std::string remediation,
                            Operation operation = Operation::none) {
  Finding f;
  f.severity = severity;
  f.code = std::move(code);
  f.message = std::move(message);
  f.remediation = std::move(remediation);
  f.operation = operation;
  return f;
}

}  // namespace callready::checks
