// Profiles, reports and CLI values from hostile or broken files: bounded
// reads, bounded nesting, plain scans instead of std::regex, escaped bytes
// in messages, and a report loader that refuses what the schema refuses.
#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "probe/engine.hpp"
#include "probe/input_limits.hpp"
#include "probe/profile.hpp"
#include "probe/report_loader.hpp"

using namespace callready;

namespace {

const std::string kSource = CALLREADY_SOURCE_DIR;

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& e : v) s += e + "\n";
  return s;
}

std::string nested(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

std::string tcp_profile(const std::string& id, const std::string& extra_params = {}) {
  return R"({"name": "p", "variables": {"h": "127.0.0.1"}, "checks": [{"id": ")" + id +
         R"(", "kind": "tcp", "category": "c", "params": {"host": "${h}", "port": 1)" + extra_params + "}}]}";
}

json valid_report() {
  std::ifstream in(kSource + "/tests/fixtures/reports/not_ready.json");
  return json::parse(in);
}

std::string report_errors(const json& doc) { return joined(load_report_text(doc.dump(), "r.json").errors); }

}  // namespace

TEST_CASE("parse_json_bounded refuses deep nesting, long strings and overflowing numbers as values") {
  CHECK(parse_json_bounded(nested(64)).value);
  auto deep = parse_json_bounded(nested(20000));
  CHECK_FALSE(deep.value);
  CHECK(deep.error == "nested deeper than 64 levels");
  auto wide = parse_json_bounded("[\"" + std::string(2000, 'a') + "\"]", {64, 1000});
  CHECK(wide.error == "a string longer than 1000 bytes");
  auto key = parse_json_bounded("{\"" + std::string(2000, 'k') + "\": 1}", {64, 1000});
  CHECK(key.error == "a string longer than 1000 bytes");
  auto huge = parse_json_bounded("[1e400]");
  CHECK_FALSE(huge.value);
  CHECK(huge.error.find("invalid JSON: number overflow") == 0);
  auto broken = parse_json_bounded("{\"a\": \xff}");
  CHECK(broken.error.find("invalid JSON: parse error") == 0);
  CHECK(broken.error.find('\xff') == std::string::npos);
}

TEST_CASE("escape_for_message keeps text and valid UTF-8 and escapes everything else") {
  CHECK(escape_for_message("plain text") == "plain text");
  CHECK(escape_for_message("caf\xc3\xa9") == "caf\xc3\xa9");
  CHECK(escape_for_message(std::string("a\0b\x1b[2J\xff\xc3", 9)) == "a\\x00b\\x1b[2J\\xff\\xc3");
  CHECK(escape_for_message("\xed\xa0\x80") == "\\xed\\xa0\\x80");  // a surrogate is not UTF-8
  CHECK(escape_for_message("\xc0\xaf") == "\\xc0\\xaf");           // nor an overlong form
  CHECK(escape_for_message(std::string(1000, 'x'), 10) == "xxxxxxxxxx... (1000 bytes)");
}

TEST_CASE("read_file_capped stops at the cap, even on an endless file") {
  auto zero = read_file_capped("/dev/zero", 1 << 20, "profile");
  CHECK_FALSE(zero.contents);
  CHECK(zero.error == "/dev/zero: larger than the 1024 KiB a profile may have");
  auto missing = read_file_capped("/nonexistent/p.json", 100, "profile");
  CHECK(missing.error == "/nonexistent/p.json: cannot read: No such file or directory");
  auto fixture = read_file_capped(kSource + "/tests/fixtures/reports/ready.json", kMaxReportBytes, "report");
  REQUIRE(fixture.contents);
  CHECK(fixture.contents->find("callready.report/v1") != std::string::npos);
}

TEST_CASE("a profile from /dev/zero is refused with the cap named") {
  auto load = load_profile("/dev/zero");
  CHECK_FALSE(load.profile);
  CHECK(joined(load.errors) == "/dev/zero: larger than the 4096 KiB a profile may have\n");
}

TEST_CASE("a profile nested 20000 deep in params or data is refused at parse time") {
  auto in_params = load_profile_text(tcp_profile("a", ", \"x\": " + nested(20000)), "deep.json");
  CHECK_FALSE(in_params.profile);
  CHECK(joined(in_params.errors) == "deep.json: nested deeper than 64 levels\n");
  auto in_data = load_profile_text(R"({"name": "p", "data": {"d": )" + nested(20000) + "}, \"checks\": []}", "d.json");
  CHECK(joined(in_data.errors) == "d.json: nested deeper than 64 levels\n");
}

TEST_CASE("30 k-character ids, variable names, references and --set keys are refused by length") {
  std::string long_name(30000, 'a');
  auto id = load_profile_text(tcp_profile(long_name), "p.json");
  CHECK(joined(id.errors).find("p.json: checks[0].id: an id is at most 128 characters") != std::string::npos);
  auto var = load_profile_text(R"({"name": "p", "variables": {")" + long_name + R"(": "x"}, "checks": [{"id": "a",
      "kind": "tcp", "category": "c", "params": {"host": "h", "port": 1}}]})",
                               "v.json");
  CHECK(joined(var.errors).find("a variable name is at most 128 characters") != std::string::npos);
  CHECK(joined(var.errors).size() < 400);  // the name is cut in the message
  auto ref = load_profile_text(tcp_profile("a", ", \"x\": \"${" + long_name + "}\""), "r.json");
  CHECK_FALSE(ref.profile);  // an unknown parameter; the scan itself is plain and linear
  CHECK_FALSE(parse_set(long_name + "=1"));
  CHECK_FALSE(parse_set("k=" + std::string(5000, 'v')));
  REQUIRE(parse_set("k=v"));
  CHECK(parse_set("k=v")->second == "v");
  CHECK_FALSE(parse_set("1k=v"));
  CHECK_FALSE(parse_set("k-x=v"));
}

TEST_CASE("variable references are found by a plain scan") {
  auto load = load_profile_text(R"({"name": "p", "variables": {"h": "127.0.0.1", "p": "9"},
      "checks": [{"id": "a", "kind": "tcp", "category": "c", "params": {"host": "${h}", "port": "${p}"}}]})",
                                "s.json");
  REQUIRE(load.profile);
  PlanOptions po;
  po.sets["p"] = "443";
  auto plan = build_plan(*load.profile, po);
  REQUIRE(plan.plan);
  CHECK(plan.plan->checks[0].params["host"] == "127.0.0.1");
  CHECK(plan.plan->checks[0].params["port"] == "443");
  // "${" without a closing brace, "${}" and "${1x}" are text, not references.
  auto odd = load_profile_text(R"({"name": "p", "checks": [{"id": "a", "kind": "tcp", "category": "c",
      "params": {"host": "${ ${} ${1x} ${", "port": 1}}]})",
                               "o.json");
  REQUIRE(odd.profile);
  CHECK(odd.profile->checks[0].params["host"] == "${ ${} ${1x} ${");
}

TEST_CASE("many references to a long value are refused after substitution") {
  std::string refs;
  for (int i = 0; i < 40; ++i) refs += "${v}";
  auto load = load_profile_text(R"({"name": "p", "variables": {"v": null}, "checks": [{"id": "a", "kind": "tcp",
      "category": "c", "params": {"host": ")" +
                                    refs + R"(", "port": 1}}]})",
                                "m.json");
  REQUIRE(load.profile);
  PlanOptions po;
  po.sets["v"] = std::string(4000, 'x');
  auto plan = build_plan(*load.profile, po);
  CHECK_FALSE(plan.plan);
  CHECK(joined(plan.errors).find("m.json: checks[0].params: a string longer than 65536 bytes") != std::string::npos);
}

TEST_CASE("a huge number in a profile is an error with the file, not an exception") {
  auto load = load_profile_text(tcp_profile("a", ", \"timeout_ms\": 1e400"), "n.json");
  CHECK_FALSE(load.profile);
  CHECK(joined(load.errors).find("n.json: invalid JSON: number overflow parsing '1e400'") == 0);
  auto big = load_profile_text(tcp_profile("a", ", \"timeout_ms\": 1e300"), "b.json");
  CHECK(joined(big.errors) == "b.json: checks[0].params.timeout_ms: expected an integer 1-3600000\n");
  auto wrap = load_profile_text(tcp_profile("a", ", \"timeout_ms\": 18446744073709551615"), "w.json");
  CHECK(joined(wrap.errors) == "w.json: checks[0].params.timeout_ms: expected an integer 1-3600000\n");
}

TEST_CASE("the fixture reports load") {
  for (const char* name : {"ready.json", "not_ready.json"}) {
    auto load = load_report_file(kSource + "/tests/fixtures/reports/" + name);
    CAPTURE(joined(load.errors));
    CHECK(load.report);
  }
}

TEST_CASE("a report that would lie is refused with the JSON path") {
  auto r = valid_report();
  REQUIRE(report_errors(r).empty());
  auto with = [&](auto edit) {
    json copy = r;
    edit(copy);
    return report_errors(copy);
  };
  CHECK(with([](json& j) {
          j["checks"][0]["status"] = "bogus";
        }).find("r.json: checks[0].status: unknown value \"bogus\" (expected pass, warn, fail, error, skipped)") !=
        std::string::npos);
  CHECK(with([](json& j) { j["verdict"] = "maybe"; }).find("r.json: verdict: unknown value \"maybe\"") !=
        std::string::npos);
  CHECK(with([](json& j) { j["score"] = 1e300; }).find("r.json: score: expected an integer 0-100") !=
        std::string::npos);
  CHECK(with([](json& j) { j["score"] = 99.5; }).find("r.json: score: expected an integer 0-100") != std::string::npos);
  CHECK(with([](json& j) { j["duration_ms"] = -1; }).find("r.json: duration_ms: expected an integer") !=
        std::string::npos);
  CHECK(with([](json& j) { j["categories"][0]["verdict"] = 3; }).find("r.json: categories[0].verdict: unknown") !=
        std::string::npos);
  CHECK(with([](json& j) {
          j["checks"][0]["findings"] = {{{"severity", "fatal"}}};
        }).find("checks[0].findings[0].severity: unknown value \"fatal\"") != std::string::npos);
  CHECK(with([](json& j) {
          j["checks"][0]["error"] = {{"reason", "gremlins"}, {"message", "m"}};
        }).find("checks[0].error.reason: unknown value \"gremlins\"") != std::string::npos);
  CHECK(with([](json& j) { j["checks"][0].erase("details"); }).find("checks[0].details: required") !=
        std::string::npos);
  auto only_schema = report_errors(json{{"schema", "callready.report/v1"}});
  for (const char* key :
       {"tool", "profile", "started_at", "finished_at", "duration_ms", "verdict", "score", "categories", "checks"})
    CHECK(only_schema.find(std::string("r.json: ") + key + ": required") != std::string::npos);
  CHECK(report_errors(json::array()).find("r.json: (top level): expected an object") != std::string::npos);
  auto deep = load_report_text(R"({"schema": "callready.report/v1", "checks": [{"details": )" + nested(20000) + "}]}",
                               "d.json");
  CHECK(joined(deep.errors) == "d.json: nested deeper than 64 levels\n");
}

TEST_CASE("the shipped JSON Schema names the same enum values as the model") {
  std::ifstream in(kSource + "/schema/callready.report.v1.json");
  REQUIRE(in);
  auto schema = json::parse(in);
  auto defs = schema["$defs"];
  auto names = [](const json& e) {
    std::vector<std::string> out;
    for (const auto& v : e)
      if (v.is_string()) out.push_back(v);
    return out;
  };
  CHECK(names(defs["status"]["enum"]) == status_names());
  CHECK(names(defs["severity"]["enum"]) == severity_names());
  CHECK(names(defs["verdict"]["enum"]) == verdict_names());
  CHECK(names(defs["reason"]["enum"]) == reason_names());
  CHECK(names(defs["operation"]["enum"]) == operation_names());
}

TEST_CASE("effective concurrency follows the descriptors available") {
  CHECK(concurrency_for_descriptors({1024, 10}) == (1024 - 10 - kDescriptorsReserved) / kDescriptorsPerCheck);
  CHECK(concurrency_for_descriptors({40, 30}) == 1);
  CHECK(concurrency_for_descriptors({1 << 20, 10}) > 4096);
  auto budget = raise_descriptor_limit();
  CHECK(budget.in_use >= 3);
  CHECK(budget.limit > budget.in_use);
}
