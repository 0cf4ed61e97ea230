#include "engines/quant/dequant_ref.h"

#include <cstring>

#include "engines/core/error.h"
#include "engines/core/half.h"
#include "engines/quant/block_layouts.h"

namespace qbench::quant {

namespace {

inline float h(uint16_t v) { return f16_to_f32(v); }

void deq_q4_0(const BlockQ4_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = h(b[i].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = float((b[i].qs[j] & 0xF) - 8) * d;
      y[j + 16] = float((b[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void deq_q4_1(const BlockQ4_1* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = h(b[i].d), m = h(b[i].m);
    for (int j = 0; j < 16; ++j) {
      y[j] = float(b[i].qs[j] & 0xF) * d + m;
      y[j + 16] = float(b[i].qs[j] >> 4) * d + m;
    }
  }
}

void deq_q5_0(const BlockQ5_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = h(b[i].d);
    uint32_t qh;
    std::memcpy(&qh, b[i].qh, 4);
    for (int j = 0; j < 16; ++j) {
      const int hi0 = int((qh >> j) << 4) & 0x10, hi1 = int(qh >> (j + 12)) & 0x10;
      y[j] = float(((b[i].qs[j] & 0xF) | hi0) - 16) * d;
      y[j + 16] = float(((b[i].qs[j] >> 4) | hi1) - 16) * d;
    }
  }
}

void deq_q5_1(const BlockQ5_1* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = h(b[i].d), m = h(b[i].m);
    uint32_t qh;
    std::memcpy(&qh, b[i].qh, 4);
    for (int j = 0; j < 16; ++j) {
      const int hi0 = int((qh >> j) << 4) & 0x10, hi1 = int(qh >> (j + 12)) & 0x10;
      y[j] = float((b[i].qs[j] & 0xF) | hi0) * d + m;
      y[j + 16] = float((b[i].qs[j] >> 4) | hi1) * d + m;
    }
  }
}

void deq_q8_0(const BlockQ8_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += 32) {
    const float d = h(b[i].d);
    for (int j = 0; j < 32; ++j) y[j] = float(b[i].qs[j]) * d;
  }
}

void deq_q4_k(const BlockQ4_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h(b[i].d), dmin = h(b[i].dmin);
    const uint8_t* q = b[i].qs;
    for (int j = 0, is = 0; j < QK_K; j += 64, is += 2, q += 32) {
      uint8_t sc, m;
      scale_min_k4(is, b[i].scales, sc, m);
      const float d1 = d * sc, m1 = dmin * m;
      scale_min_k4(is + 1, b[i].scales, sc, m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * float(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * float(q[l] >> 4) - m2;
    }
  }
}

void deq_q5_k(const BlockQ5_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h(b[i].d), dmin = h(b[i].dmin);
    const uint8_t* ql = b[i].qs;
    const uint8_t* qh = b[i].qh;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0, is = 0; j < QK_K; j += 64, is += 2, ql += 32) {
      uint8_t sc, m;
      scale_min_k4(is, b[i].scales, sc, m);
      const float d1 = d * sc, m1 = dmin * m;
      scale_min_k4(is + 1, b[i].scales, sc, m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * float((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * float((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
      u1 = uint8_t(u1 << 2);
      u2 = uint8_t(u2 << 2);
    }
  }
}

void deq_q6_k(const BlockQ6_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h(b[i].d);
    const uint8_t* ql = b[i].ql;
    const uint8_t* qh = b[i].qh;
    const int8_t* sc = b[i].scales;
    for (int n = 0; n < QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = int((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = int((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = int((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = int((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is + 0] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
    }
  }
}

}  // namespace

void dequantize_row(GgmlType t, const void* row, float* y, int64_t n) {
  const int64_t nb = n / traits(t).block;
  if (nb * traits(t).block != n) row_bytes(t, n);  // throws with the message
  switch (t) {
    case GgmlType::F32: std::memcpy(y, row, size_t(n) * 4); return;
    case GgmlType::F16: {
      const uint16_t* p = static_cast<const uint16_t*>(row);
      for (int64_t i = 0; i < n; ++i) y[i] = f16_to_f32(p[i]);
      return;
    }
    case GgmlType::BF16: {
      const uint16_t* p = static_cast<const uint16_t*>(row);
      for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_f32(p[i]);
      return;
    }
    case GgmlType::Q4_0: return deq_q4_0(static_cast<const BlockQ4_0*>(row), y, nb);
    case GgmlType::Q4_1: return deq_q4_1(static_cast<const BlockQ4_1*>(row), y, nb);
    case GgmlType::Q5_0: return deq_q5_0(static_cast<const BlockQ5_0*>(row), y, nb);
    case GgmlType::Q5_1: return deq_q5_1(static_cast<const BlockQ5_1*>(row), y, nb);
    case GgmlType::Q8_0: return deq_q8_0(static_cast<const BlockQ8_0*>(row), y, nb);
    case GgmlType::Q4_K: return deq_q4_k(static_cast<const BlockQ4_K*>(row), y, nb);
    case GgmlType::Q5_K: return deq_q5_k(static_cast<const BlockQ5_K*>(row), y, nb);
    case GgmlType::Q6_K: return deq_q6_k(static_cast<const BlockQ6_K*>(row), y, nb);
    default: throw Error(std::string("dequantisation of ") + type_name(t) + " is not supported");
  }
}

}  // namespace qbench::quant
