// The committed corpus as a plain regression test (GCC, the normal suite):
// every file of tests/fuzz/corpus/<target>/ goes through its target once.
// A target without a corpus directory, or an empty one, fails: the corpus is
// what keeps the fixes fixed.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_target.hpp"

namespace callready::fuzz {

std::map<std::string, Target>& targets() {
  static std::map<std::string, Target> all;
  return all;
}

bool register_target(const char* name, Target target) {
  targets()[name] = target;
  return true;
}

}  // namespace callready::fuzz

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc < 2) {
    std::fprintf(stderr, "usage: fuzz_regression CORPUS_DIR [TARGET]\n");
    return 2;
  }
  int failures = 0;
  for (const auto& [name, target] : callready::fuzz::targets()) {
    if (argc > 2 && name != argv[2]) continue;
    fs::path dir = fs::path(argv[1]) / name;
    std::vector<fs::path> files;
    if (fs::is_directory(dir))
      for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file()) files.push_back(e.path());
    if (files.empty()) {
      std::fprintf(stderr, "FAIL: %s: no corpus in %s\n", name.c_str(), dir.c_str());
      ++failures;
      continue;
    }
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      target(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    }
    std::printf("%s: %zu inputs\n", name.c_str(), files.size());
  }
  return failures ? 1 : 0;
}
