#pragma once
// What every CUDA test file shares: the skip when no GPU is present (also under
// CI=true: CI compiles the CUDA tests, the device machine runs them through
// bench/cuda_device_run.sh), seeded random inputs, and copying a device array back.
// Include only where QBENCH_HAVE_CUDA is defined.
#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engines/cuda/cuda_context.h"
#include "engines/cuda/register_cuda.h"
#include "engines/model/device_array.h"
#include "engines/model/ops.h"
#include "engines/registry/registry.h"
#include "tests/support/reference_fixture.h"

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

// A tiny-qwen2 fixture model (`rel`: a folder or file under ../shared/fixtures/tiny-qwen2) on `device`
// ("cuda" or "cpu").
inline std::unique_ptr<Engine> load_tiny_fixture(const std::string& rel, const std::string& device) {
  register_cuda_device();
  LoadOptions lo;
  lo.path = tiny_fixture_dir() + "/" + rel;
  lo.device = device;
  return load_engine(lo);
}

}  // namespace qbench::test
