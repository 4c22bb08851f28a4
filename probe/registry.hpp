#pragma once
// The map from kind name to check. Adding a check = one folder under checks/,
// one line in registry.cpp, one test file.
#include <map>
#include <string>

#include "probe/check.hpp"

namespace callready {

const std::map<std::string, CheckKind>& check_registry();
const CheckKind* find_check_kind(const std::string& name);

}  // namespace callready
