#include "probe/progress.hpp"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "probe/scoring.hpp"

namespace callready {

void ProgressLine::check_started(const PlannedCheck& c) {
  running_.insert(c.rule.id);
  draw(false);
}

void ProgressLine::check_finished(const PlannedCheck& c, const CheckRun& run) {
  running_.erase(c.rule.id);
  ++done_;
  auto status = status_of(run);
  if (status == Status::fail || status == Status::error) ++failed_;
  draw(done_ == total_);
}

void ProgressLine::draw(bool force) {
  auto now = Clock::now();
  if (!force && drawn_ && now - last_ < std::chrono::milliseconds(80)) return;
  last_ = now;
  winsize ws{};
  int width = ioctl(fileno(out_), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 ? ws.ws_col : 80;
  std::string names;
  for (const auto& n : running_) names += (names.empty() ? "" : ", ") + n;
  std::string line = fmt::format("[{}/{}] {} problem{} · running: {}", done_, total_, failed_, failed_ == 1 ? "" : "s",
                                 names.empty() ? "-" : names);
  if (static_cast<int>(line.size()) > width - 1) line = line.substr(0, width - 4) + "...";
  fmt::print(out_, "\r\x1b[2K{}", line);
  std::fflush(out_);
  drawn_ = true;
}

void ProgressLine::clear() {
  if (!drawn_) return;
  fmt::print(out_, "\r\x1b[2K");
  std::fflush(out_);
  drawn_ = false;
}

}  // namespace callready
