#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <csignal>
#include <iostream>
#include <string>

#include "tests/support/skip.hpp"

namespace {

// Reasons given by CALLREADY_SKIP in the running test case.
std::string g_skip_reasons;

// Prints the skip line ctest looks for when a test case that asked to be
// skipped ends without a failure (a failure must never be hidden as a skip).
struct SkipListener : doctest::IReporter {
  explicit SkipListener(const doctest::ContextOptions&) {}
  void test_case_start(const doctest::TestCaseData& tc) override {
    name_ = tc.m_name;
    g_skip_reasons.clear();
  }
  void test_case_end(const doctest::CurrentTestCaseStats& st) override {
    if (g_skip_reasons.empty()) return;
    if (st.failure_flags == 0 && st.numAssertsFailedCurrentTest == 0)
      std::cout << "SKIPPED: " << g_skip_reasons << " [" << name_ << "]" << std::endl;
    else
      std::cout << "(not reported as skipped: the test case failed; it also said: " << g_skip_reasons << ")"
                << std::endl;
    g_skip_reasons.clear();
  }
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}

 private:
  std::string name_;
};

}  // namespace

DOCTEST_REGISTER_LISTENER("callready-skip", 1, SkipListener);

namespace callready::test {
void mark_skipped(const std::string& reason) {
  if (g_skip_reasons.find(reason) != std::string::npos) return;  // subcases re-run the body
  g_skip_reasons += (g_skip_reasons.empty() ? "" : "; ") + reason;
}
}  // namespace callready::test

int main(int argc, char** argv) {
  // As in the program itself: a peer that closes mid-write must not kill the test.
  std::signal(SIGPIPE, SIG_IGN);
  return doctest::Context(argc, argv).run();
}
