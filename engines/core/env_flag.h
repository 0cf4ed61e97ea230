#pragma once
// Measurement switches read from the environment (QBENCH_CUDA_GRAPHS=0 and the like).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace qbench {

// True when the variable `name` is set to exactly `value`.
inline bool env_equals(const char* name, const char* value) {
  const char* e = std::getenv(name);
  return e && std::strcmp(e, value) == 0;
}

// The integer value of `name` clamped to [lo, hi]; def when it is not set.
inline int64_t env_int(const char* name, int64_t def, int64_t lo, int64_t hi) {
  const char* e = std::getenv(name);
  return e ? std::clamp<int64_t>(std::atoll(e), lo, hi) : def;
}

}  // namespace qbench
