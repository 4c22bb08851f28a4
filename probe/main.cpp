// The program's edge: the only place exceptions are caught and turned into
// an exit status. Everything below returns errors as values.
#include <cstdio>
#include <exception>

#include "probe/cli.hpp"

int main(int argc, char** argv) {
  try {
    return callready::run_cli(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "callready: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "callready: unexpected error\n");
  }
  return 3;
}
