#pragma once
// Random rows of GGUF blocks (kernel tests, synthetic 7B-scale files): random
// code bytes, with every fp16 scale field set to a small finite value so that
// dequantised weights stay around ±0.04 (random bytes would give NaN/inf scales).
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "engines/core/half.h"
#include "engines/quant/block_layouts.h"
#include "engines/quant/ggml_type.h"

namespace qbench::quant {

// Fills row[0..row_bytes(t, n)) for a row of n elements from the 64-bit state `s` (splitmix64).
inline void fill_random_row(GgmlType t, int64_t n, uint64_t seed, uint8_t* row) {
  uint64_t s = seed;
  auto next = [&s]() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  const uint64_t nbytes = row_bytes(t, n);
  uint64_t k = 0;
  for (; k + 8 <= nbytes; k += 8) { const uint64_t v = next(); std::memcpy(row + k, &v, 8); }
  if (k < nbytes) { const uint64_t v = next(); std::memcpy(row + k, &v, size_t(nbytes - k)); }
  auto unit = [&]() { return float(int64_t(next() >> 11) - (int64_t(1) << 52)) / float(int64_t(1) << 52); };  // [-1, 1)
  auto half_at = [&](uint8_t* p, float v) { const uint16_t h = f32_to_f16(v); std::memcpy(p, &h, 2); };
  const int64_t nb = n / traits(t).block, bb = traits(t).block_bytes;
  switch (t) {
    case GgmlType::F32:
      for (int64_t i = 0; i < n; ++i) { const float v = 0.04f * unit(); std::memcpy(row + 4 * i, &v, 4); }
      break;
    case GgmlType::F16:
      for (int64_t i = 0; i < n; ++i) half_at(row + 2 * i, 0.04f * unit());
      break;
    case GgmlType::BF16:
      for (int64_t i = 0; i < n; ++i) { const uint16_t h = f32_to_bf16(0.04f * unit()); std::memcpy(row + 2 * i, &h, 2); }
      break;
    case GgmlType::Q4_0: case GgmlType::Q5_0: case GgmlType::Q8_0: {
      const float dmax = t == GgmlType::Q8_0 ? 3e-4f : t == GgmlType::Q5_0 ? 2.5e-3f : 5e-3f;
      for (int64_t b = 0; b < nb; ++b) half_at(row + b * bb, dmax * unit());
      break;
    }
    case GgmlType::Q4_1: case GgmlType::Q5_1:
      for (int64_t b = 0; b < nb; ++b) {
        half_at(row + b * bb, 2.5e-3f * unit());
        half_at(row + b * bb + 2, 0.04f * unit());
      }
      break;
    case GgmlType::Q4_K: case GgmlType::Q5_K:
      for (int64_t b = 0; b < nb; ++b) {
        half_at(row + b * bb, 4e-5f * (1.f + unit()));
        half_at(row + b * bb + 2, 4e-5f * (1.f + unit()));
      }
      break;
    case GgmlType::Q6_K:
      for (int64_t b = 0; b < nb; ++b) half_at(row + b * bb + offsetof(BlockQ6_K, d), 1e-5f * unit());
      break;
    default: break;
  }
}

inline std::vector<uint8_t> random_row(GgmlType t, int64_t n, std::mt19937& rng) {
  std::vector<uint8_t> row(row_bytes(t, n));
  fill_random_row(t, n, (uint64_t(rng()) << 32) | rng(), row.data());
  return row;
}

}  // namespace qbench::quant
