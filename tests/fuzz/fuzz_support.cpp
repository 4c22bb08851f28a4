#include <cstdio>
#include <cstdlib>

#include "tests/fuzz/fuzz_target.hpp"

namespace callready::fuzz {

[[noreturn]] void invariant_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: invariant failed: %s\n", file, line, what);
  std::abort();
}

}  // namespace callready::fuzz
