#include "engines/cpu/int4_kernels.h"

#include <cmath>
#include <cstring>

#if defined(__AVX512BF16__) && defined(__AVX512BW__)
#include <immintrin.h>
#define QB_INT4_BF16 1
#endif

namespace qbench::cpu {

namespace {

// Round to nearest even (NaN and ±inf keep their class); exact for the 8-bit-mantissa values it returns.
inline uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

inline float from_bf16(uint16_t b) {
  const uint32_t u = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace

float int4_row_dot_scalar(const PackedInt4& p, int64_t o, const float* x) {
  const float* s = p.row_scale(o);
  const float* z = p.row_zero(o);
  double acc = 0;
  for (int64_t j = 0; j < p.in; ++j) {
    const int64_t g = p.group_of(j);
    acc += double(x[j]) * double(s[g] * (float(packed_code(p, o, j)) - z[g]));
  }
  return float(acc);
}

void int4_row_dequant_scalar(const PackedInt4& p, int64_t o, float* out) {
  const float* s = p.row_scale(o);
  const float* z = p.row_zero(o);
  for (int64_t j = 0; j < p.in_pad; ++j) {
    const int64_t g = p.group_of(j);
    out[j] = s[g] * (float(packed_code(p, o, j)) - z[g]);
  }
}

// Plain loops the compiler vectorises; the same expression as the scalar
// reference, so the values are bit-identical. Groups are multiples of 16
// inputs (pack_int4_for_cpu checks), so each 16-input half-step has one group.
void int4_row_dequant(const PackedInt4& p, int64_t o, float* out) {
  const uint32_t* w = p.row_codes(o);
  const float *s = p.row_scale(o), *z = p.row_zero(o);
  for (int64_t c = 0; c < p.in_pad / 128; ++c) {
    uint16_t lanes[32];
    std::memcpy(lanes, w + c * 16, sizeof lanes);
    for (int j = 0; j < 4; ++j)
      for (int h = 0; h < 2; ++h) {
        const int64_t base = c * 128 + 32 * j + 16 * h;
        const int64_t g = p.group_of(base);
        const float sg = s[g], zg = z[g];
        for (int l = 0; l < 16; ++l) out[base + l] = sg * (float((lanes[16 * h + l] >> (4 * j)) & 0xF) - zg);
      }
  }
}

float int4_row_dot(const PackedInt4& p, int64_t o, const float* x) {
  thread_local std::vector<float> w;
  w.resize(size_t(p.in_pad));
  int4_row_dequant(p, o, w.data());
  float part[16] = {};
  for (int64_t j = 0; j < p.in_pad; j += 16)
    for (int k = 0; k < 16; ++k) part[k] += x[j + k] * w[size_t(j + k)];
  float acc = 0;
  for (float v : part) acc += v;
  return acc;
}

void int4_prepare_bf16(const PackedInt4& p, const float* xp, Int4Bf16Activations& a) {
  for (auto& part : a.parts) part.resize(size_t(p.in_pad));
  for (int64_t j = 0; j < p.in_pad; ++j) {
    float rest = xp[j];
    for (auto& part : a.parts) {  // each part: bf16 of what the previous ones left
      const uint16_t b = to_bf16(rest);
      part[size_t(j)] = b;
      rest -= from_bf16(b);
    }
  }
}

#if defined(QB_INT4_BF16)

bool int4_bf16_supported(const PackedInt4& p) { return p.groups == 1 || p.group_size % 32 == 0; }

namespace {

// R rows at once. kStep: groups of 32·k inputs (scale applied per 32-input
// step); otherwise whole 128-input chunks share a group (g128, g256, one group).
// Separate hi/lo accumulators keep the dependency chains short.
// vpermw table: entry k (and k + 16) = bf16(k − z), exact for |k − z| <= 16.
// The duplicate half makes index bit 4 (the next nibble's low bit) irrelevant,
// so a 16-bit shift alone selects a code.
inline __m512i code_table(float z) {
  const __m512 iota = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m256i h = (__m256i)_mm512_cvtneps_pbh(_mm512_sub_ps(iota, _mm512_set1_ps(z)));
  return _mm512_inserti64x4(_mm512_castsi256_si512(h), h, 1);
}

// R rows at once. kStep: groups of 32·k inputs (scale applied per 32-input
// step); otherwise whole 128-input chunks share a group (g128, g256, one group).
// One accumulator per row and part keeps the dependency chains short.
template <int R, bool kStep>
void rows_dot(const PackedInt4& p, int64_t o, const Int4Bf16Activations& a, float* y) {
  constexpr int P = Int4Bf16Activations::kParts;
  const uint32_t* w[R];
  const float *s[R], *z[R];
  __m512 acc[R], d[R][P];
  __m512i lut[R];
  for (int r = 0; r < R; ++r) {
    w[r] = p.row_codes(o + r);
    s[r] = p.row_scale(o + r);
    z[r] = p.row_zero(o + r);
    lut[r] = code_table(z[r][0]);
    acc[r] = _mm512_setzero_ps();
    for (int k = 0; k < P; ++k) d[r][k] = _mm512_setzero_ps();
  }
  const int64_t per = p.groups == 1 ? INT64_MAX : p.group_size / (kStep ? 32 : 128);
  int64_t g = 0, left = per;
  auto flush = [&] {
    for (int r = 0; r < R; ++r) {
      __m512 sum = d[r][P - 1];
      for (int k = P - 2; k >= 0; --k) sum = _mm512_add_ps(sum, d[r][k]);  // small parts first
      acc[r] = _mm512_fmadd_ps(sum, _mm512_set1_ps(s[r][g]), acc[r]);
      for (int k = 0; k < P; ++k) d[r][k] = _mm512_setzero_ps();
    }
    if (--left == 0) {
      left = per;
      if (g + 1 < p.groups) {
        ++g;
        for (int r = 0; r < R; ++r) lut[r] = code_table(z[r][g]);
      }
    }
  };
  const int64_t chunks = p.in_pad / 128;
  for (int64_t c = 0; c < chunks; ++c) {
    __m512i v[R];
    for (int r = 0; r < R; ++r) v[r] = _mm512_load_si512(w[r] + c * 16);
    // Step J: inputs 32J..32J+31; the code of lane l sits in bits 4J..4J+3.
#define QB_STEP(J)                                                                                   \
  {                                                                                                  \
    __m512bh x[P];                                                                                   \
    for (int k = 0; k < P; ++k) x[k] = (__m512bh)_mm512_loadu_si512(a.parts[k].data() + c * 128 + 32 * (J)); \
    for (int r = 0; r < R; ++r) {                                                                    \
      const __m512i idx = (J) ? _mm512_srli_epi16(v[r], 4 * (J)) : v[r];                             \
      const __m512bh q = (__m512bh)_mm512_permutexvar_epi16(idx, lut[r]);                            \
      for (int k = 0; k < P; ++k) d[r][k] = _mm512_dpbf16_ps(d[r][k], q, x[k]);                      \
    }                                                                                                \
    if (kStep) flush();                                                                              \
  }
    QB_STEP(0) QB_STEP(1) QB_STEP(2) QB_STEP(3)
#undef QB_STEP
    if (!kStep) flush();
  }
  for (int r = 0; r < R; ++r) y[r] = _mm512_reduce_add_ps(acc[r]);
}

template <bool kStep>
void rows_dot_n(const PackedInt4& p, int64_t o, int rows, const Int4Bf16Activations& a, float* y) {
  switch (rows) {
    case 4: rows_dot<4, kStep>(p, o, a, y); break;
    case 3: rows_dot<3, kStep>(p, o, a, y); break;
    case 2: rows_dot<2, kStep>(p, o, a, y); break;
    default: rows_dot<1, kStep>(p, o, a, y); break;
  }
}

}  // namespace

void int4_rows_dot_bf16(const PackedInt4& p, int64_t o, int rows, const Int4Bf16Activations& a, float* y) {
  if (p.groups > 1 && p.group_size % 128 != 0) rows_dot_n<true>(p, o, rows, a, y);
  else rows_dot_n<false>(p, o, rows, a, y);
}

#else

bool int4_bf16_supported(const PackedInt4&) { return false; }

// Not reached (callers check int4_bf16_supported); kept so every build links.
void int4_rows_dot_bf16(const PackedInt4& p, int64_t o, int rows, const Int4Bf16Activations& a, float* y) {
  std::vector<float> x(a.parts[0].size(), 0.f);
  for (const auto& part : a.parts)
    for (size_t j = 0; j < x.size(); ++j) x[j] += from_bf16(part[j]);
  for (int r = 0; r < rows; ++r) y[r] = int4_row_dot(p, o + r, x.data());
}

#endif

}  // namespace qbench::cpu
