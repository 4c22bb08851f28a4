#pragma once
// Inline SVG pictures of a check's view blocks (probe/view.hpp). They know no
// check kind: every word they draw (captions, labels, legends, thresholds)
// comes from the block. Every function escapes every piece of text it draws,
// so its output may be placed into the page unescaped ({{{svg}}}); colours
// come from CSS classes so the page's light/dark theme applies to the
// pictures too.
#include <string>
#include <string_view>

#include "probe/view.hpp"

namespace callready::svg {

// Escapes & < > " ' for XML/HTML text and attribute values.
std::string escape(std::string_view text);

// One strip per contiguous run of ports, each span coloured by its state.
std::string port_strip(const view::PortStrip& strip);

// Columns across, rows down; a cell is filled by its tone (muted: absent),
// the legend says what each tone means.
std::string matrix(const view::Matrix& m);

// The value as a bar on [min, max], the thresholds as labelled lines.
std::string bar(const view::Bar& b);

// The points as a line (one polyline per run of points with values) on a
// scale from 0, the reference lines across it, and a lane of marks per lane
// under it; the x axis spans [x_min, x_max] (or the points').
std::string series(const view::Series& s);

}  // namespace callready::svg
