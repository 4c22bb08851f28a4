// probe/profiles/REQUIREMENTS.md and the built-in profiles agree: every
// encoded row names rules that exist and cite the row's seed section, every
// profile rule is listed by a row, rows waiting for a check kind name one that
// is not registered yet, and (when the seeds are present) every cited heading
// and table row occurs verbatim in its seed document.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "probe/profile.hpp"
#include "probe/registry.hpp"

using namespace callready;

namespace {

struct Row {
  std::string id, source, text, status;
  std::string file, heading;         // "000_....txt", "heading > sub"
  std::vector<std::string> quotes;   // 「table rows」 cited
  std::vector<std::string> encoded;  // "profile/rule-id"
  std::string waits;                 // check kind
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(' ');
  auto e = s.find_last_not_of(' ');
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string& s, const std::string& sep) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  for (auto next = s.find(sep); next != std::string::npos; pos = next + sep.size(), next = s.find(sep, pos))
    out.push_back(s.substr(pos, next - pos));
  out.push_back(s.substr(pos));
  return out;
}

// The 「…」 quotes in a source. Byte-wise std::regex cannot exclude a
// multi-byte character, so this scans for the UTF-8 brackets directly.
std::vector<std::string> quotes_in(const std::string& s) {
  static const std::string open = "「", close = "」";
  std::vector<std::string> out;
  for (auto b = s.find(open); b != std::string::npos; b = s.find(open, b + 1)) {
    auto e = s.find(close, b + open.size());
    if (e == std::string::npos) break;
    out.push_back(s.substr(b + open.size(), e - b - open.size()));
    b = e;
  }
  return out;
}

std::vector<Row> parse_record(const std::string& md) {
  static const std::regex source_re(R"(^(\d{3}_[0-9a-f]{16}\.txt) § (.+?) \(.*)");
  std::vector<Row> rows;
  std::istringstream in(md);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("| R", 0) != 0) continue;
    auto cells = split(line, "|");
    REQUIRE_MESSAGE(cells.size() == 6, line);  // leading and trailing empty cells
    Row r;
    r.id = trim(cells[1]);
    r.source = trim(cells[2]);
    r.text = trim(cells[3]);
    r.status = trim(cells[4]);
    std::smatch m;
    if (std::regex_match(r.source, m, source_re)) {
      r.file = m[1];
      r.heading = m[2];
    }
    r.quotes = quotes_in(r.source);
    if (r.status.rfind("encoded: ", 0) == 0)
      for (const auto& ref : split(r.status.substr(9), ", ")) r.encoded.push_back(trim(ref));
    else if (r.status.rfind("waits: ", 0) == 0)
      r.waits = trim(r.status.substr(7));
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<Row> load_record() {
  auto md = read_file(std::string(CALLREADY_SOURCE_DIR) + "/probe/profiles/REQUIREMENTS.md");
  REQUIRE_FALSE(md.empty());
  return parse_record(md);
}

// profile/rule-id -> requirement source, for every built-in profile but the demo.
std::map<std::string, std::string> builtin_rules() {
  std::map<std::string, std::string> out;
  for (const auto& b : list_builtin_profiles()) {
    if (b.name == "loopback-demo") continue;
    auto load = load_profile(b.name);
    REQUIRE_MESSAGE(load.profile.has_value(), b.name);
    for (const auto& r : load.profile->checks) out[b.name + "/" + r.id] = r.requirement.source;
  }
  return out;
}

// The part of a row's source a rule must cite: its quoted table rows, else its heading.
std::vector<std::string> citation_keys(const Row& r) {
  if (!r.quotes.empty()) {
    std::vector<std::string> keys;
    for (const auto& q : r.quotes) keys.push_back("「" + q + "」");
    return keys;
  }
  return {"§ " + r.heading};
}

}  // namespace

TEST_CASE("the parser reads a row's source, quotes and status") {
  auto rows = parse_record(
      "| R9 | 000_657a5ed6fe137e34.txt § Heading (Gloss), port table row 「A (B)」 (gloss), 「解決」 | text | encoded: "
      "p/a, p/b "
      "|\n"
      "| R8 | 001_0143181e3fa0e64a.txt § X > Y (x > y) | text | waits: pmtu |\n"
      "not a row\n");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].file == "000_657a5ed6fe137e34.txt");
  CHECK(rows[0].heading == "Heading");
  CHECK(rows[0].quotes == std::vector<std::string>{"A (B)", "解決"});
  CHECK(rows[0].encoded == std::vector<std::string>{"p/a", "p/b"});
  CHECK(rows[1].heading == "X > Y");
  CHECK(rows[1].waits == "pmtu");
  CHECK(rows[1].encoded.empty());
}

TEST_CASE("every row is well formed") {
  auto rows = load_record();
  CHECK(rows.size() >= 100);
  std::set<std::string> ids;
  std::set<std::string> files;
  for (const auto& r : rows) {
    CAPTURE(r.id);
    CHECK(ids.insert(r.id).second);
    CHECK_FALSE(r.file.empty());
    CHECK_FALSE(r.heading.empty());
    CHECK(r.text.size() > 10);
    bool not_testable = r.status.rfind("not testable: ", 0) == 0 && r.status.size() > 20;
    CHECK((!r.encoded.empty() || !r.waits.empty() || not_testable));
    files.insert(r.file);
  }
  CHECK(files.size() == 5);  // all five seed documents are covered
}

TEST_CASE("every encoded row names existing rules that cite its seed section") {
  auto rules = builtin_rules();
  for (const auto& r : load_record()) {
    for (const auto& ref : r.encoded) {
      CAPTURE(r.id);
      CAPTURE(ref);
      auto it = rules.find(ref);
      REQUIRE_MESSAGE(it != rules.end(), "no built-in profile has rule " << ref);
      CHECK(it->second.find(r.file) != std::string::npos);
      for (const auto& key : citation_keys(r))
        CHECK_MESSAGE(it->second.find(key) != std::string::npos, "rule source does not cite " << key);
    }
  }
}

TEST_CASE("every profile rule is listed by a row") {
  std::set<std::string> listed;
  for (const auto& r : load_record()) listed.insert(r.encoded.begin(), r.encoded.end());
  auto rules = builtin_rules();
  CHECK(rules.size() >= 20);
  for (const auto& [ref, source] : rules)
    CHECK_MESSAGE(listed.count(ref) == 1, ref << " (" << source << ") has no row");
}

TEST_CASE("rows waiting for a check kind name one that does not exist yet") {
  for (const auto& r : load_record()) {
    if (r.waits.empty()) continue;
    CAPTURE(r.id);
    CHECK(std::regex_match(r.waits, std::regex("[a-z][a-z0-9_]*")));
    CHECK_MESSAGE(find_check_kind(r.waits) == nullptr,
                  "check kind \"" << r.waits << "\" is registered now: encode this row and mark it encoded");
  }
}

TEST_CASE("cited headings and table rows occur verbatim in the seed documents") {
  std::string seeds = std::string(CALLREADY_SOURCE_DIR) + "/../shared/seeds";
  if (!std::filesystem::exists(seeds + "/README.md")) {
    MESSAGE("seed documents not found at " << seeds << "; skipped");
    return;
  }
  std::map<std::string, std::string> text;
  for (const auto& r : load_record()) {
    CAPTURE(r.id);
    if (!text.count(r.file)) text[r.file] = read_file(seeds + "/" + r.file);
    const auto& doc = text[r.file];
    REQUIRE_FALSE(doc.empty());
    for (const auto& part : split(r.heading, " > "))
      CHECK_MESSAGE(doc.find(part) != std::string::npos, "heading not in " << r.file << ": " << part);
    for (const auto& q : r.quotes)
      CHECK_MESSAGE(doc.find(q) != std::string::npos, "row not in " << r.file << ": " << q);
  }
}
