#pragma once
// What the HTML report shows inside one check's expandable detail, drawn from
// the check's view (probe/view.hpp) without knowing its kind: pictures (SVG
// the renderer drew from escaped parts) and tables of plain strings (escaped
// by the template). Every details key the view does not name in shown_keys
// lands in a generic key/value table, so a new kind or a new key always
// renders.
#include <string>
#include <vector>

#include "probe/model.hpp"
#include "probe/view.hpp"

namespace callready::html {

struct Cell {
  std::string text;
  std::string cls;  // CSS classes: good, bad, warn, muted, mono, pre, flag or empty
};

struct Table {
  std::string caption;
  std::vector<std::string> headers;  // empty: a key/value table
  std::vector<std::vector<Cell>> rows;
  std::vector<std::string> row_classes;  // parallel to rows (may be shorter)
};

struct Picture {
  std::string svg;  // safe to place unescaped
  std::string caption;
};

// Pictures first, then the generic "Measurements" table, then the view's
// tables, each group in the view's order.
struct DetailView {
  std::vector<Picture> pictures;
  std::vector<Table> tables;
};

DetailView detail_view(const CheckRecord& check, const view::View& view = {});

// The generic view: nested objects become dotted keys, lists of objects get [i].
Table key_value_table(const json& details, std::string caption);

// A view's table as the template draws it: tones and fonts become CSS
// classes, row changes become diff-* row classes.
Table table_of(const view::Table& table);

}  // namespace callready::html
