#pragma once
// What a check kind wants a person to see of its details: structured blocks
// (tables, port strips, a matrix, bars) that a renderer draws without knowing
// the kind. A kind builds its View from the report's `details` alone, so
// re-rendering a saved report draws exactly what the scan decided then.
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "probe/net/port_ranges.hpp"

namespace callready::view {

// good/bad/warn: judged by the check; muted: not tested or not applicable.
enum class Tone { plain, good, bad, warn, muted };

struct Cell {
  std::string text;
  Tone tone = Tone::plain;
  bool mono = false;  // addresses, names, wire text
  bool pre = false;   // keep line breaks
};

// How a row of a before/after table changed (a diff).
enum class RowChange { none, same, changed, added, removed };

struct Table {
  std::string caption;
  std::vector<std::string> headers;  // empty: a key/value table
  std::vector<std::vector<Cell>> rows;
  std::vector<RowChange> changes;  // parallel to rows, may be shorter
};

enum class PortState { open, blocked, rejected, untested };

// A range of ports (the one port-range type) in one state.
struct PortSpan : net::PortRange {
  PortState state = PortState::untested;
};

// A strip of port ranges coloured by state.
struct PortStrip {
  std::string caption;
  std::vector<PortSpan> spans;
};

// A grid of marks: e.g. TLS versions (columns) by cipher suites (rows).
struct Matrix {
  struct Column {
    std::string label;
    Tone tone = Tone::plain;  // bad: this column itself is judged wrong
  };
  struct Row {
    std::string label;
    std::vector<Tone> cells;  // muted: absent; good/bad: present and judged; plain: present, unjudged
  };
  std::string caption;
  std::vector<Column> columns;
  std::vector<Row> rows;
  std::string legend_good = "allowed", legend_bad = "forbidden", legend_plain = "accepted";
};

// A measured value on a scale, with the thresholds it was judged against.
struct Bar {
  struct Threshold {
    double value = 0;
    std::string label;
    Tone tone = Tone::warn;  // below this line the value is this bad
  };
  std::string caption;
  std::optional<double> value;  // absent: nothing measured
  double min = 0, max = 0;
  std::string unit;
  std::vector<Threshold> thresholds;
  Tone tone = Tone::plain;  // how the value itself was judged
  std::string note;         // e.g. "large packets vanish without ICMP"
};

// Values along an axis (e.g. each packet's round trip over the seconds of a
// stream) drawn as a line, with marks on lanes beneath it (e.g. losses, one
// lane per direction). A point without a value breaks the line.
struct Series {
  struct Point {
    double x = 0;
    std::optional<double> y;  // absent: no value here
  };
  struct Lane {
    std::string label;      // what a mark on this lane means
    std::vector<double> x;  // where the marks are
    Tone tone = Tone::bad;
  };
  std::string caption;
  std::string x_unit, y_unit;   // e.g. "s", "ms"
  std::string y_label;          // what the line is, e.g. "RTT"
  double x_min = 0, x_max = 0;  // the axis; x_max <= x_min: from the points
  std::vector<Point> points;
  std::vector<Lane> lanes;
  std::vector<Bar::Threshold> lines;  // horizontal reference lines
};

using Block = std::variant<Table, PortStrip, Matrix, Bar, Series>;

struct View {
  std::vector<Block> blocks;
  // details keys these blocks show; the renderer lists every other key in a
  // generic table, so a new key always renders.
  std::vector<std::string> shown_keys;
};

// How a details value reads in a cell: strings as they are, booleans as
// yes/no, null as an em dash, a list of scalars joined by ", " ("(none)"
// when empty), anything else as JSON.
std::string text(const nlohmann::json& value);

}  // namespace callready::view
