#include "reports/html_details.hpp"

#include <algorithm>
#include <type_traits>

#include "reports/svg.hpp"

namespace callready::html {

namespace {

bool is_scalar_list(const json& v) {
  return v.is_array() && std::none_of(v.begin(), v.end(), [](const json& e) { return e.is_structured(); });
}

void flatten(const json& v, const std::string& key, Table& t) {
  if (v.is_object() && !v.empty()) {
    for (const auto& [k, sub] : v.items()) flatten(sub, key.empty() ? k : key + "." + k, t);
  } else if (v.is_array() && !is_scalar_list(v)) {
    for (std::size_t i = 0; i < v.size(); ++i) flatten(v[i], key + "[" + std::to_string(i) + "]", t);
  } else {
    t.rows.push_back({{key, "mono"}, {view::text(v), v.is_boolean() ? "flag" : ""}});
  }
}

const char* tone_class(view::Tone t) {
  switch (t) {
    case view::Tone::plain:
      return "";
    case view::Tone::good:
      return "good";
    case view::Tone::bad:
      return "bad";
    case view::Tone::warn:
      return "warn";
    case view::Tone::muted:
      return "muted";
  }
  return "";
}

const char* change_class(view::RowChange c) {
  switch (c) {
    case view::RowChange::none:
      return "";
    case view::RowChange::same:
      return "diff-same";
    case view::RowChange::changed:
      return "diff-changed";
    case view::RowChange::added:
      return "diff-added";
    case view::RowChange::removed:
      return "diff-removed";
  }
  return "";
}

Cell cell_of(const view::Cell& c) {
  std::string cls;
  for (const char* part : {c.mono ? "mono" : "", c.pre ? "pre" : "", tone_class(c.tone)}) {
    if (*part == '\0') continue;
    if (!cls.empty()) cls += ' ';
    cls += part;
  }
  return {c.text, std::move(cls)};
}

}  // namespace

Table key_value_table(const json& details, std::string caption) {
  Table t;
  t.caption = std::move(caption);
  if (details.is_object())
    for (const auto& [k, v] : details.items()) flatten(v, k, t);
  else if (!details.is_null())
    flatten(details, "value", t);
  return t;
}

Table table_of(const view::Table& in) {
  Table t;
  t.caption = in.caption;
  t.headers = in.headers;
  t.rows.reserve(in.rows.size());
  for (const auto& row : in.rows) {
    std::vector<Cell> cells;
    cells.reserve(row.size());
    for (const auto& c : row) cells.push_back(cell_of(c));
    t.rows.push_back(std::move(cells));
  }
  for (auto c : in.changes) t.row_classes.emplace_back(change_class(c));
  return t;
}

DetailView detail_view(const CheckRecord& check, const view::View& v) {
  DetailView out;
  std::vector<Table> tables;
  for (const auto& block : v.blocks) {
    std::visit(
        [&](const auto& b) {
          using B = std::decay_t<decltype(b)>;
          if constexpr (std::is_same_v<B, view::Table>)
            tables.push_back(table_of(b));
          else if constexpr (std::is_same_v<B, view::PortStrip>)
            out.pictures.push_back({svg::port_strip(b), b.caption});
          else if constexpr (std::is_same_v<B, view::Matrix>)
            out.pictures.push_back({svg::matrix(b), b.caption});
          else if constexpr (std::is_same_v<B, view::Bar>)
            out.pictures.push_back({svg::bar(b), b.caption});
          else
            out.pictures.push_back({svg::series(b), b.caption});
        },
        block);
  }
  json rest = check.details;
  if (rest.is_object())
    for (const auto& key : v.shown_keys) rest.erase(key);
  Table kv = key_value_table(rest, "Measurements");
  if (!kv.rows.empty()) out.tables.push_back(std::move(kv));
  for (auto& t : tables) out.tables.push_back(std::move(t));
  return out;
}

}  // namespace callready::html
