#pragma once
// One fuzz target: CALLREADY_FUZZ_TARGET(name) { ...uses data, size... }.
// Built by scripts/fuzz.sh with clang (-DCALLREADY_LIBFUZZER): the body is
// LLVMFuzzerTestOneInput of its own executable. Built by the normal suite
// with GCC: every target registers by name, and fuzz_regression (one
// executable) feeds it each file of tests/fuzz/corpus/<name>/, so every
// input the fuzzer kept, including each crash found, stays fixed.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace callready::fuzz {

using Target = int (*)(const std::uint8_t* data, std::size_t size);
bool register_target(const char* name, Target target);

// An invariant a target asserts (not a crash of the code under test): abort
// either way, so libFuzzer keeps the input and the regression test fails.
[[noreturn]] void invariant_failed(const char* what, const char* file, int line);

inline std::string_view text_of(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace callready::fuzz

#define CALLREADY_FUZZ_CHECK(cond) ((cond) ? void(0) : ::callready::fuzz::invariant_failed(#cond, __FILE__, __LINE__))

#ifdef CALLREADY_LIBFUZZER
#define CALLREADY_FUZZ_TARGET(name)                                                   \
  static int fuzz_##name(const std::uint8_t* data, std::size_t size);                 \
  extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) { \
    return fuzz_##name(data, size);                                                   \
  }                                                                                   \
  static int fuzz_##name(const std::uint8_t* data, std::size_t size)
#else
#define CALLREADY_FUZZ_TARGET(name)                                                                                    \
  static int fuzz_##name(const std::uint8_t* data, std::size_t size);                                                  \
  [[maybe_unused]] static const bool fuzz_registered_##name = ::callready::fuzz::register_target(#name, &fuzz_##name); \
  static int fuzz_##name(const std::uint8_t* data, std::size_t size)
#endif
