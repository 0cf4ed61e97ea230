#include "workloads/progress.h"

#include <unistd.h>

#include <cstdio>

namespace qbench {

Progress::Progress(bool enabled)
    : enabled_(enabled), tty_(::isatty(2)), start_(std::chrono::steady_clock::now()), last_(start_ - std::chrono::hours(1)) {}

void Progress::update(const std::string& label, int64_t done, int64_t total) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since_last = std::chrono::duration<double>(now - last_).count();
  if (since_last < (tty_ ? 0.2 : 5.0) && done != total) return;
  last_ = now;
  const double el = std::chrono::duration<double>(now - start_).count();
  const double eta = done > 0 ? el * double(total - done) / double(done) : 0.0;
  std::fprintf(stderr, "%s%s  %lld/%lld  %.0fs elapsed  eta %.0fs%s", tty_ ? "\r\033[K" : "", label.c_str(),
               (long long)done, (long long)total, el, eta, tty_ ? "" : "\n");
  std::fflush(stderr);
  dirty_ = tty_;
}

void Progress::finish() {
  if (enabled_ && dirty_) std::fputc('\n', stderr);
  dirty_ = false;
}

}  // namespace qbench
