#pragma once
// The self-contained HTML report: one file, no external assets, readable
// offline, on a phone and on paper. Every string from the network or the
// profile is HTML-escaped by the mustache templates in reports/templates/.
#include <string>

#include <functional>

#include "probe/model.hpp"
#include "probe/view.hpp"

namespace callready {

std::string render_html(const Report& report, const std::function<view::View(const CheckRecord&)>& view_of = {});

}  // namespace callready
