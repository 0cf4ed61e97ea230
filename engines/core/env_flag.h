#pragma once
// Measurement switches read from the environment (QBENCH_CUDA_GRAPHS=0 and the like).
#include <cstdlib>
#include <cstring>

namespace qbench {

// True when the variable `name` is set to exactly `value`.
inline bool env_equals(const char* name, const char* value) {
  const char* e = std::getenv(name);
  return e && std::strcmp(e, value) == 0;
}

}  // namespace qbench
