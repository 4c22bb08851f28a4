#pragma once
// The self-contained HTML report: one file, no external assets, readable
// offline, on a phone and on paper. Every string from the network or the
// profile is HTML-escaped by the mustache templates in reports/templates/.
#include <string>

#include "probe/model.hpp"
#include "reports/render.hpp"

namespace callready {

// `view_of` gives each check's view (the CLI passes check_view from
// probe/registry.hpp); without one every check's details are one generic table.
std::string render_html(const Report& report, const ViewOf& view_of = {});

}  // namespace callready
