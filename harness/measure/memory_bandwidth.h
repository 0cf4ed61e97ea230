#pragma once
// Memory-bandwidth probes: how fast OpenMP threads can stream through DRAM.
// These are the ceilings batch-1 decode is compared to (it reads every weight
// once per token). Header-only because qbench_measure is not compiled with
// OpenMP; targets linked to qbench_engines are.
#include <immintrin.h>
#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "engines/core/error.h"
#include "harness/measure/clock.h"

#ifndef _OPENMP
#error "harness/measure/memory_bandwidth.h needs OpenMP: include it from a target linked to qbench_engines"
#endif

namespace qbench {

namespace bandwidth_detail {

constexpr size_t kHugePage = size_t(2) << 20;

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using FloatBuffer = std::unique_ptr<float[], FreeDeleter>;

// Huge-page aligned and advised, so TLB misses do not cap the measured rate.
inline FloatBuffer allocate(size_t floats) {
  const size_t bytes = (floats * sizeof(float) + kHugePage - 1) / kHugePage * kHugePage;
  auto* p = static_cast<float*>(std::aligned_alloc(kHugePage, bytes));
  if (!p) throw Error("bandwidth probe: cannot allocate " + std::to_string(bytes >> 20) + " MiB");
  (void)madvise(p, bytes, MADV_HUGEPAGE);
  return FloatBuffer(p);
}

// Thread t's slice [begin, end) of n floats, cut on 64-byte boundaries.
inline std::pair<size_t, size_t> slice(size_t n, int t, int threads) {
  auto cut = [&](int i) { return std::min(n, (n * size_t(i) / size_t(threads)) / 16 * 16); };
  return {cut(t), t + 1 == threads ? n : cut(t + 1)};
}

// Each thread first-touches the slice it will later stream, so pages land on
// its NUMA node. Values 1..8 vary within every page: a hypervisor cannot
// merge identical pages (KSM) and serve the probe from one cached page.
inline void first_touch(float* p, size_t n, int threads) {
#pragma omp parallel num_threads(threads)
  {
    const auto [b, e] = slice(n, omp_get_thread_num(), omp_get_num_threads());
    for (size_t i = b; i < e; ++i) p[i] = float(1 + i % 8);
  }
}

// Sum with the widest vector loads available; four accumulators hide add latency.
inline float sum(const float* p, size_t n) {
  size_t i = 0;
  float s = 0.0f;
#if defined(__AVX512F__)
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (; i + 64 <= n; i += 64) {
    a0 = _mm512_add_ps(a0, _mm512_load_ps(p + i));
    a1 = _mm512_add_ps(a1, _mm512_load_ps(p + i + 16));
    a2 = _mm512_add_ps(a2, _mm512_load_ps(p + i + 32));
    a3 = _mm512_add_ps(a3, _mm512_load_ps(p + i + 48));
  }
  alignas(64) float lanes[16];  // not _mm512_reduce_add_ps: GCC 12 warns inside it
  _mm512_store_ps(lanes, _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
  for (float l : lanes) s += l;
#elif defined(__AVX2__)
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_load_ps(p + i));
    a1 = _mm256_add_ps(a1, _mm256_load_ps(p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_load_ps(p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_load_ps(p + i + 24));
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (float l : lanes) s += l;
#endif
  for (; i < n; ++i) s += p[i];
  return s;
}

// Copy with non-temporal stores: no read-for-ownership of the destination, so
// the traffic is exactly one read and one write per byte (what large memcpy does).
inline void copy(float* dst, const float* src, size_t n) {
  size_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16) _mm512_stream_ps(dst + i, _mm512_load_ps(src + i));
  _mm_sfence();
#elif defined(__AVX2__)
  for (; i + 8 <= n; i += 8) _mm256_stream_ps(dst + i, _mm256_load_ps(src + i));
  _mm_sfence();
#endif
  for (; i < n; ++i) dst[i] = src[i];
}

inline void check_args(const char* probe, int threads, size_t bytes, int reps) {
  if (threads < 1 || reps < 1 || bytes < 4096)
    throw Error(std::string(probe) + ": needs threads >= 1, reps >= 1 and at least 4 KiB (got threads=" +
                std::to_string(threads) + ", reps=" + std::to_string(reps) + ", bytes=" + std::to_string(bytes) + ")");
}

}  // namespace bandwidth_detail

// GB/s (1e9 bytes/s) at which `threads` OpenMP threads sum a `bytes` buffer,
// which should be far larger than the last-level cache. Best of `reps`.
inline double measure_read_bandwidth_gbs(int threads, size_t bytes = 1ull << 30, int reps = 5) {
  namespace d = bandwidth_detail;
  d::check_args("read bandwidth probe", threads, bytes, reps);
  const size_t n = bytes / sizeof(float);
  d::FloatBuffer buf = d::allocate(n);
  d::first_touch(buf.get(), n, threads);
  double best = 1e300, checksum = 0.0;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : checksum)
    {
      const auto [b, e] = d::slice(n, omp_get_thread_num(), omp_get_num_threads());
      checksum += d::sum(buf.get() + b, e - b);
    }
    best = std::min(best, seconds_since(t0));
  }
  // Every element is >= 1, so a skipped slice shows; the bound is loose
  // because float accumulators round away part of a billion-element sum.
  if (checksum < 0.5 * double(reps) * double(n)) throw Error("read bandwidth probe: bad checksum");
  return double(n * sizeof(float)) / best * 1e-9;
}

// GB/s of a copy, counting both the bytes read and the bytes written
// (STREAM's convention). Best of `reps`.
inline double measure_copy_bandwidth_gbs(int threads, size_t bytes = 512ull << 20, int reps = 5) {
  namespace d = bandwidth_detail;
  d::check_args("copy bandwidth probe", threads, bytes, reps);
  const size_t n = bytes / sizeof(float);
  d::FloatBuffer src = d::allocate(n), dst = d::allocate(n);
  d::first_touch(src.get(), n, threads);
  d::first_touch(dst.get(), n, threads);
  src[n - 1] = -1.0f;  // a value dst does not hold until the copy ran
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
#pragma omp parallel num_threads(threads)
    {
      const auto [b, e] = d::slice(n, omp_get_thread_num(), omp_get_num_threads());
      d::copy(dst.get() + b, src.get() + b, e - b);
    }
    best = std::min(best, seconds_since(t0));
  }
  if (dst[n - 1] != -1.0f) throw Error("copy bandwidth probe: destination not written");
  return 2.0 * double(n * sizeof(float)) / best * 1e-9;
}

}  // namespace qbench
