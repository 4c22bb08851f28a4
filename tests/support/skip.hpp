#pragma once
// A test case that cannot run here (a peer, a tool or root is missing) says
// so and stops: CALLREADY_SKIP("sslscan not installed"). If the test case has
// no failure when it ends, doctest_main.cpp prints "SKIPPED: <reason>" and
// ctest (SKIP_REGULAR_EXPRESSION in tests/CMakeLists.txt) reports it as
// skipped, never as passed. A test case that failed before it skipped stays
// failed. Use it in the test case's body or in a void helper it calls.
#include <string>

namespace callready::test {
void mark_skipped(const std::string& reason);
}

#define CALLREADY_SKIP(reason)               \
  do {                                       \
    ::callready::test::mark_skipped(reason); \
    return;                                  \
  } while (false)
