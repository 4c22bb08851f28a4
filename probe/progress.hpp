#pragma once
// The live progress line on stderr (TTY only): done/total and what is running.
#include <chrono>
#include <cstdio>
#include <set>
#include <string>

#include "probe/engine.hpp"

namespace callready {

class ProgressLine : public EngineObserver {
 public:
  ProgressLine(std::size_t total, std::FILE* out) : total_(total), out_(out) {}
  ~ProgressLine() override { clear(); }
  void check_started(const PlannedCheck& c) override;
  void check_finished(const PlannedCheck& c, const CheckRun& run) override;
  void clear();

 private:
  void draw(bool force);
  std::size_t total_, done_ = 0, failed_ = 0;
  std::set<std::string> running_;
  std::FILE* out_;
  Clock::time_point last_{};
  bool drawn_ = false;
};

}  // namespace callready
