#pragma once
// Monotonic timing: steady_clock never jumps with NTP or wall-clock changes,
// so intervals measured with it are always non-negative.
#include <chrono>

namespace qbench {

using Clock = std::chrono::steady_clock;

// Seconds elapsed since t0, as a double.
double seconds_since(Clock::time_point t0);

}  // namespace qbench
