#include "engines/quant/activation_quant.h"

#include <cmath>
#include <cstring>

#include "engines/core/error.h"
#include "engines/core/half.h"
#include "engines/quant/block_layouts.h"

namespace qbench::quant {

namespace {
// Round half to even, as _mm256_round_ps(_MM_ROUND_NEAREST) and ggml's nearest_int do.
inline int round_even(float v) { return int(std::nearbyintf(v)); }
}  // namespace

GgmlType activation_type(GgmlType w) {
  switch (w) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16: return w;
    case GgmlType::Q4_0: case GgmlType::Q5_0: case GgmlType::Q8_0: return GgmlType::Q8_0;
    case GgmlType::Q4_1: case GgmlType::Q5_1: return GgmlType::Q8_1;
    case GgmlType::Q4_K: case GgmlType::Q5_K: case GgmlType::Q6_K: return GgmlType::Q8_K;
    default: throw Error(std::string("no dot product for ") + type_name(w));
  }
}

uint64_t activation_row_bytes(GgmlType w, int64_t n) { return row_bytes(activation_type(w), n); }

void quantize_row_q8_0_x86(const float* x, void* out, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(out);
  for (int64_t i = 0; i < n / QK8_0; ++i, x += QK8_0) {
    float amax = 0;
    for (int j = 0; j < QK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.f, id = amax != 0.f ? 127.f / amax : 0.f;
    y[i].d = f32_to_f16(d);
    for (int j = 0; j < QK8_0; ++j) y[i].qs[j] = int8_t(round_even(x[j] * id));
  }
}

void quantize_row_q8_1_x86(const float* x, void* out, int64_t n) {
  auto* y = static_cast<BlockQ8_1*>(out);
  for (int64_t i = 0; i < n / QK8_1; ++i, x += QK8_1) {
    float amax = 0;
    for (int j = 0; j < QK8_1; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.f, id = amax != 0.f ? 127.f / amax : 0.f;
    y[i].d = f32_to_f16(d);
    int sum = 0;
    for (int j = 0; j < QK8_1; ++j) {
      y[i].qs[j] = int8_t(round_even(x[j] * id));
      sum += y[i].qs[j];
    }
    y[i].s = f32_to_f16(d * float(sum));
  }
}

void quantize_row_q8_k(const float* x, void* out, int64_t n) {
  auto* y = static_cast<BlockQ8_K*>(out);
  for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K) {
    float max = 0, amax = 0;
    for (int j = 0; j < QK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.f) {
      std::memset(&y[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < QK_K; ++j) y[i].qs[j] = int8_t(std::min(127, round_even(iscale * x[j])));
    for (int j = 0; j < QK_K / 16; ++j) {
      int sum = 0;
      for (int k = 0; k < 16; ++k) sum += y[i].qs[j * 16 + k];
      y[i].bsums[j] = int16_t(sum);
    }
    y[i].d = 1.f / iscale;
  }
}

void quantize_activation(GgmlType w, const float* x, void* out, int64_t n) {
  switch (activation_type(w)) {
    case GgmlType::F32: std::memcpy(out, x, size_t(n) * 4); return;
    case GgmlType::F16: {
      auto* o = static_cast<uint16_t*>(out);
      for (int64_t i = 0; i < n; ++i) o[i] = f32_to_f16(x[i]);
      return;
    }
    case GgmlType::BF16: {
      auto* o = static_cast<uint16_t*>(out);
      for (int64_t i = 0; i < n; ++i) o[i] = f32_to_bf16(x[i]);
      return;
    }
    case GgmlType::Q8_0: return quantize_row_q8_0_x86(x, out, n);
    case GgmlType::Q8_1: return quantize_row_q8_1_x86(x, out, n);
    case GgmlType::Q8_K: return quantize_row_q8_k(x, out, n);
    default: throw Error("internal: no activation quantiser");
  }
}

}  // namespace qbench::quant
