#pragma once
// The one file that lists the check kinds and their responder services.
// Adding a kind = one folder under checks/, one line in registry.cpp (two for
// a cooperative kind: its check and its service), its tests.
#include <map>
#include <string>
#include <vector>

#include "probe/check.hpp"
#include "probe/respond/service.hpp"

namespace callready {

const std::map<std::string, CheckKind>& check_registry();
const CheckKind* find_check_kind(const std::string& name);

// The far-end services `callready respond` can run, in start-up order.
const std::vector<respond::ServiceKind>& service_registry();

// What the HTML report draws for a check: its kind's view of the details
// (empty for a kind without one, or a kind this build does not know).
view::View check_view(const CheckRecord& record);

// What monitoring systems read of a check: its kind's samples (empty for a
// kind without any, or a kind this build does not know).
metrics::Samples check_metrics(const CheckRecord& record);

}  // namespace callready
