#include "engines/quant/vec_dot_ref.h"

#include <cstring>

#include "engines/core/error.h"
#include "engines/core/half.h"
#include "engines/quant/block_layouts.h"

namespace qbench::quant {

namespace {

inline float h(uint16_t v) { return f16_to_f32(v); }

float dot_q4_0(const BlockQ4_0* x, const BlockQ8_0* y, int64_t nb) {
  float s = 0;
  for (int64_t i = 0; i < nb; ++i) {
    int sumi = 0;
    for (int j = 0; j < 16; ++j)
      sumi += ((x[i].qs[j] & 0xF) - 8) * y[i].qs[j] + ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + 16];
    s += float(sumi) * (h(x[i].d) * h(y[i].d));
  }
  return s;
}

float dot_q4_1(const BlockQ4_1* x, const BlockQ8_1* y, int64_t nb) {
  float s = 0;
  for (int64_t i = 0; i < nb; ++i) {
    int sumi = 0;
    for (int j = 0; j < 16; ++j) sumi += (x[i].qs[j] & 0xF) * y[i].qs[j] + (x[i].qs[j] >> 4) * y[i].qs[j + 16];
    s += (h(x[i].d) * h(y[i].d)) * float(sumi) + h(x[i].m) * h(y[i].s);
  }
  return s;
}

float dot_q5_0(const BlockQ5_0* x, const BlockQ8_0* y, int64_t nb) {
  float s = 0;
  for (int64_t i = 0; i < nb; ++i) {
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, 4);
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      const int hi0 = int((qh >> j) << 4) & 0x10, hi1 = int(qh >> (j + 12)) & 0x10;
      sumi += (((x[i].qs[j] & 0xF) | hi0) - 16) * y[i].qs[j] + (((x[i].qs[j] >> 4) | hi1) - 16) * y[i].qs[j + 16];
    }
    s += float(sumi) * (h(x[i].d) * h(y[i].d));
  }
  return s;
}

float dot_q5_1(const BlockQ5_1* x, const BlockQ8_1* y, int64_t nb) {
  float s = 0;
  for (int64_t i = 0; i < nb; ++i) {
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, 4);
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      const int hi0 = int((qh >> j) << 4) & 0x10, hi1 = int(qh >> (j + 12)) & 0x10;
      sumi += ((x[i].qs[j] & 0xF) | hi0) * y[i].qs[j] + ((x[i].qs[j] >> 4) | hi1) * y[i].qs[j + 16];
    }
    s += (h(x[i].d) * h(y[i].d)) * float(sumi) + h(x[i].m) * h(y[i].s);
  }
  return s;
}

float dot_q8_0(const BlockQ8_0* x, const BlockQ8_0* y, int64_t nb) {
  float s = 0;
  for (int64_t i = 0; i < nb; ++i) {
    int sumi = 0;
    for (int j = 0; j < 32; ++j) sumi += x[i].qs[j] * y[i].qs[j];
    s += float(sumi) * (h(x[i].d) * h(y[i].d));
  }
  return s;
}

// Q4_K and Q5_K: per super-block, d·Σ_j sc_j·Σ q·a − dmin·Σ_j m_j·Σ a (a = activation codes).
template <bool kFive, class B>
float dot_qk(const B* x, const BlockQ8_K* y, int64_t nb) {
  float s = 0;
  for (int64_t i = 0; i < nb; ++i) {
    int sum_q = 0, sum_m = 0;
    const uint8_t* q = x[i].qs;
    const int8_t* a = y[i].qs;
    for (int j = 0; j < 8; j += 2, q += 32) {
      uint8_t sc0, m0, sc1, m1;
      scale_min_k4(j, x[i].scales, sc0, m0);
      scale_min_k4(j + 1, x[i].scales, sc1, m1);
      int s0 = 0, s1 = 0;
      for (int l = 0; l < 32; ++l) {
        int lo = q[l] & 0xF, hi = q[l] >> 4;
        if constexpr (kFive) {
          const uint8_t* qh = reinterpret_cast<const BlockQ5_K*>(&x[i])->qh;
          lo += (qh[l] >> j) & 1 ? 16 : 0;
          hi += (qh[l] >> (j + 1)) & 1 ? 16 : 0;
        }
        s0 += lo * a[j * 32 + l];
        s1 += hi * a[(j + 1) * 32 + l];
      }
      sum_q += sc0 * s0 + sc1 * s1;
      sum_m += m0 * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]) + m1 * (y[i].bsums[2 * j + 2] + y[i].bsums[2 * j + 3]);
    }
    s += h(x[i].d) * y[i].d * float(sum_q) - h(x[i].dmin) * y[i].d * float(sum_m);
  }
  return s;
}

float dot_q6_k(const BlockQ6_K* x, const BlockQ8_K* y, int64_t nb) {
  float s = 0;
  for (int64_t i = 0; i < nb; ++i) {
    int8_t v[QK_K];
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    for (int n = 0; n < QK_K; n += 128, ql += 64, qh += 32)
      for (int l = 0; l < 32; ++l) {
        v[n + l] = int8_t(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
        v[n + l + 32] = int8_t(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
        v[n + l + 64] = int8_t(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        v[n + l + 96] = int8_t(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      int sj = 0;
      for (int l = 0; l < 16; ++l) sj += v[j * 16 + l] * y[i].qs[j * 16 + l];
      sumi += x[i].scales[j] * sj;
    }
    s += h(x[i].d) * y[i].d * float(sumi);
  }
  return s;
}

}  // namespace

float vec_dot_ref(GgmlType t, const void* w, const void* a, int64_t n) {
  const int64_t nb = n / traits(t).block;
  switch (t) {
    case GgmlType::F32: {
      const float *x = static_cast<const float*>(w), *y = static_cast<const float*>(a);
      double s = 0;
      for (int64_t i = 0; i < n; ++i) s += double(x[i]) * y[i];
      return float(s);
    }
    case GgmlType::F16: case GgmlType::BF16: {
      const uint16_t *x = static_cast<const uint16_t*>(w), *y = static_cast<const uint16_t*>(a);
      double s = 0;
      for (int64_t i = 0; i < n; ++i)
        s += t == GgmlType::F16 ? double(f16_to_f32(x[i])) * f16_to_f32(y[i]) : double(bf16_to_f32(x[i])) * bf16_to_f32(y[i]);
      return float(s);
    }
    case GgmlType::Q4_0: return dot_q4_0(static_cast<const BlockQ4_0*>(w), static_cast<const BlockQ8_0*>(a), nb);
    case GgmlType::Q4_1: return dot_q4_1(static_cast<const BlockQ4_1*>(w), static_cast<const BlockQ8_1*>(a), nb);
    case GgmlType::Q5_0: return dot_q5_0(static_cast<const BlockQ5_0*>(w), static_cast<const BlockQ8_0*>(a), nb);
    case GgmlType::Q5_1: return dot_q5_1(static_cast<const BlockQ5_1*>(w), static_cast<const BlockQ8_1*>(a), nb);
    case GgmlType::Q8_0: return dot_q8_0(static_cast<const BlockQ8_0*>(w), static_cast<const BlockQ8_0*>(a), nb);
    case GgmlType::Q4_K: return dot_qk<false>(static_cast<const BlockQ4_K*>(w), static_cast<const BlockQ8_K*>(a), nb);
    case GgmlType::Q5_K: return dot_qk<true>(static_cast<const BlockQ5_K*>(w), static_cast<const BlockQ8_K*>(a), nb);
    case GgmlType::Q6_K: return dot_q6_k(static_cast<const BlockQ6_K*>(w), static_cast<const BlockQ8_K*>(a), nb);
    default: throw Error(std::string("no dot product for ") + type_name(t));
  }
}

}  // namespace qbench::quant
