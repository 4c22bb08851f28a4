// The program's edge: the only place exceptions are caught and turned into
// an exit status. Everything below returns errors as values.
#include <csignal>
#include <cstdio>
#include <exception>

#include "probe/cli.hpp"

int main(int argc, char** argv) {
  // A peer closing mid-write is a finding, not a reason to die: writes report EPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  try {
    return callready::run_cli(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "callready: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "callready: unexpected error\n");
  }
  return 3;
}
