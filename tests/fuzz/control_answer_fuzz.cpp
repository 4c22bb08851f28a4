// fuzz-link: callready_base
// What the scan makes of a responder's control lines (a hostile or broken
// responder sends anything): the first line as the greeting, the rest as the
// answer, read as a hello's answer when it says ok. Nothing throws, nothing
// is cast out of range, and what is kept is bounded.
#include <algorithm>

#include "probe/net/responder_control.hpp"
#include "tests/fuzz/fuzz_target.hpp"

using namespace callready;
using namespace callready::net;

CALLREADY_FUZZ_TARGET(control_answer) {
  auto text = fuzz::text_of(data, size);
  auto newline = text.find('\n');
  auto greeting = text.substr(0, newline);
  auto rest = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);

  (void)read_control_greeting(greeting);
  auto answer = read_control_answer(rest);
  CALLREADY_FUZZ_CHECK(answer.answer.has_value() == (answer.failure == ResponderInfo::Failure::none));
  if (!answer.answer) {
    CALLREADY_FUZZ_CHECK(!answer.error.empty());
    CALLREADY_FUZZ_CHECK(answer.refusal.size() <= 4 * 64 + 3);  // escaped, cut to 64 characters
    return 0;
  }
  CALLREADY_FUZZ_CHECK(answer.answer->is_object());
  auto info = read_hello_answer(*answer.answer);
  CALLREADY_FUZZ_CHECK(info.services.size() <= kMaxAnsweredServices);
  for (const auto& [name, ports] : info.services) CALLREADY_FUZZ_CHECK(std::is_sorted(ports.begin(), ports.end()));
  CALLREADY_FUZZ_CHECK(info.max_pps >= 0);
  CALLREADY_FUZZ_CHECK(info.ok() || !info.error.empty());
  return 0;
}
