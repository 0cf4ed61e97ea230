#pragma once
// What every CUDA test file shares: the skip when no GPU is present (also under
// CI=true: CI compiles the CUDA tests, the device machine runs them through
// bench/cuda_device_run.sh), seeded random inputs, and copying a device array back.
// Include only where QBENCH_HAVE_CUDA is defined.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "engines/cuda/cuda_context.h"
#include "engines/model/device_array.h"
#include "engines/model/ops.h"

namespace qbench::test {

inline bool require_cuda() {
  std::string why;
  if (cuda::device_available(&why)) return true;
  WARN("SKIPPED: " + why + " (CUDA tests run on the device machine: bench/cuda_device_run.sh)");
  return false;
}

inline std::vector<float> randu(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

template <class T>
std::vector<T> to_host(Ops& o, const DeviceArray<T>& a) {
  std::vector<T> h(a.size());
  o.download(h.data(), a.data(), a.size() * sizeof(T));
  return h;
}

}  // namespace qbench::test
