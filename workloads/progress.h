#pragma once
// Progress lines on stderr for long work: rewritten in place on a terminal,
// throttled to one line every few seconds otherwise (logs, CI).
#include <chrono>
#include <string>

namespace qbench {

class Progress {
 public:
  explicit Progress(bool enabled = true);
  // "label  done/total  eta"; cheap to call often.
  void update(const std::string& label, int64_t done, int64_t total);
  void finish();

 private:
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point start_, last_;
  bool dirty_ = false;
};

}  // namespace qbench
