#include "engines/cpu/int4_kernels.h"

#include "engines/cpu/simd.h"

namespace qbench::cpu {

// Group bookkeeping shared by all kernels: slices of 16 inputs advance the
// group every slices_per_group; padding past the last group keeps its values.
struct GroupCursor {
  const PackedInt4& p;
  int64_t g = 0, left;
  explicit GroupCursor(const PackedInt4& pk) : p(pk), left(pk.slices_per_group) {}
  // Returns true when the group changed.
  bool next_slice() {
    if (--left) return false;
    left = p.slices_per_group;
    if (g + 1 < p.groups) ++g;
    return true;
  }
};

float int4_row_dot_scalar(const PackedInt4& p, int64_t o, const float* x) {
  const float* s = p.row_scale(o);
  const float* z = p.row_zero(o);
  double acc = 0;
  for (int64_t j = 0; j < p.in; ++j) {
    const int64_t g = std::min<int64_t>(j / 16 / p.slices_per_group, p.groups - 1);
    acc += double(x[j]) * double(s[g] * (float(packed_code(p, o, j)) - z[g]));
  }
  return float(acc);
}

void int4_row_dequant_scalar(const PackedInt4& p, int64_t o, float* out) {
  const float* s = p.row_scale(o);
  const float* z = p.row_zero(o);
  for (int64_t j = 0; j < p.in_pad; ++j) {
    const int64_t g = std::min<int64_t>(j / 16 / p.slices_per_group, p.groups - 1);
    out[j] = s[g] * (float(packed_code(p, o, j)) - z[g]);
  }
}

#if defined(__AVX512F__)

namespace {

// lut[k] = s · (k − z): vpermps picks a lane's weight by the low 4 bits of its code.
inline __m512 group_lut(const float* s, const float* z, int64_t g) {
  const __m512 iota = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  return _mm512_mul_ps(_mm512_sub_ps(iota, _mm512_set1_ps(z[g])), _mm512_set1_ps(s[g]));
}

}  // namespace

float int4_row_dot(const PackedInt4& p, int64_t o, const float* x) {
  const uint32_t* w = p.row_codes(o);
  const float *s = p.row_scale(o), *z = p.row_zero(o);
  GroupCursor gc(p);
  __m512 lut = group_lut(s, z, 0);
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
  const int64_t chunks = p.in_pad / 128;
  for (int64_t c = 0; c < chunks; ++c) {
    const __m512i v = _mm512_load_si512(w + c * 16);
    const float* xc = x + c * 128;
#define QB_STEP(J, ACC)                                                                              \
  ACC = _mm512_fmadd_ps(_mm512_loadu_ps(xc + 16 * J),                                                \
                        _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4 * J), lut), ACC);               \
  if (gc.next_slice()) lut = group_lut(s, z, gc.g);
    QB_STEP(0, a0) QB_STEP(1, a1) QB_STEP(2, a2) QB_STEP(3, a3)
    QB_STEP(4, a0) QB_STEP(5, a1) QB_STEP(6, a2) QB_STEP(7, a3)
#undef QB_STEP
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

void int4_row_dot2(const PackedInt4& p, int64_t o, const float* x, float* y0, float* y1) {
  const uint32_t *w0 = p.row_codes(o), *w1 = p.row_codes(o + 1);
  const float *s0 = p.row_scale(o), *z0 = p.row_zero(o), *s1 = p.row_scale(o + 1), *z1 = p.row_zero(o + 1);
  GroupCursor gc(p);
  __m512 l0 = group_lut(s0, z0, 0), l1 = group_lut(s1, z1, 0);
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
  const int64_t chunks = p.in_pad / 128;
  for (int64_t c = 0; c < chunks; ++c) {
    const __m512i v0 = _mm512_load_si512(w0 + c * 16), v1 = _mm512_load_si512(w1 + c * 16);
    const float* xc = x + c * 128;
#define QB_STEP2(J, A, B)                                                                        \
  {                                                                                              \
    const __m512 xv = _mm512_loadu_ps(xc + 16 * J);                                              \
    A = _mm512_fmadd_ps(xv, _mm512_permutexvar_ps(_mm512_srli_epi32(v0, 4 * J), l0), A);         \
    B = _mm512_fmadd_ps(xv, _mm512_permutexvar_ps(_mm512_srli_epi32(v1, 4 * J), l1), B);         \
    if (gc.next_slice()) l0 = group_lut(s0, z0, gc.g), l1 = group_lut(s1, z1, gc.g);             \
  }
    QB_STEP2(0, a0, b0) QB_STEP2(1, a1, b1) QB_STEP2(2, a0, b0) QB_STEP2(3, a1, b1)
    QB_STEP2(4, a0, b0) QB_STEP2(5, a1, b1) QB_STEP2(6, a0, b0) QB_STEP2(7, a1, b1)
#undef QB_STEP2
  }
  *y0 = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  *y1 = _mm512_reduce_add_ps(_mm512_add_ps(b0, b1));
}

void int4_row_dequant(const PackedInt4& p, int64_t o, float* out) {
  const uint32_t* w = p.row_codes(o);
  const float *s = p.row_scale(o), *z = p.row_zero(o);
  GroupCursor gc(p);
  __m512 lut = group_lut(s, z, 0);
  for (int64_t c = 0; c < p.in_pad / 128; ++c) {
    const __m512i v = _mm512_load_si512(w + c * 16);
    for (int j = 0; j < 8; ++j) {
      _mm512_storeu_ps(out + c * 128 + 16 * j, _mm512_permutexvar_ps(_mm512_srl_epi32(v, _mm_cvtsi32_si128(4 * j)), lut));
      if (gc.next_slice()) lut = group_lut(s, z, gc.g);
    }
  }
}

#elif defined(__AVX2__) && defined(__FMA__)

namespace {

// 8 codes (nibble j of 8 words) widened to float and dequantised: s · (q − z).
inline __m256 dequant8(__m256i v, int j, __m256 sv, __m256 zv) {
  const __m256i q = _mm256_and_si256(_mm256_srl_epi32(v, _mm_cvtsi32_si128(4 * j)), _mm256_set1_epi32(0xF));
  return _mm256_mul_ps(_mm256_sub_ps(_mm256_cvtepi32_ps(q), zv), sv);
}

}  // namespace

float int4_row_dot(const PackedInt4& p, int64_t o, const float* x) {
  const uint32_t* w = p.row_codes(o);
  const float *s = p.row_scale(o), *z = p.row_zero(o);
  GroupCursor gc(p);
  __m256 sv = _mm256_set1_ps(s[0]), zv = _mm256_set1_ps(z[0]);
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  for (int64_t c = 0; c < p.in_pad / 128; ++c) {
    const __m256i lo = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + c * 16));
    const __m256i hi = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + c * 16 + 8));
    const float* xc = x + c * 128;
    for (int j = 0; j < 8; ++j) {
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(xc + 16 * j), dequant8(lo, j, sv, zv), a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(xc + 16 * j + 8), dequant8(hi, j, sv, zv), a1);
      if (gc.next_slice()) sv = _mm256_set1_ps(s[gc.g]), zv = _mm256_set1_ps(z[gc.g]);
    }
  }
  return hsum8(_mm256_add_ps(a0, a1));
}

void int4_row_dot2(const PackedInt4& p, int64_t o, const float* x, float* y0, float* y1) {
  *y0 = int4_row_dot(p, o, x);
  *y1 = int4_row_dot(p, o + 1, x);
}

void int4_row_dequant(const PackedInt4& p, int64_t o, float* out) {
  const uint32_t* w = p.row_codes(o);
  const float *s = p.row_scale(o), *z = p.row_zero(o);
  GroupCursor gc(p);
  __m256 sv = _mm256_set1_ps(s[0]), zv = _mm256_set1_ps(z[0]);
  for (int64_t c = 0; c < p.in_pad / 128; ++c) {
    const __m256i lo = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + c * 16));
    const __m256i hi = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + c * 16 + 8));
    for (int j = 0; j < 8; ++j) {
      _mm256_storeu_ps(out + c * 128 + 16 * j, dequant8(lo, j, sv, zv));
      _mm256_storeu_ps(out + c * 128 + 16 * j + 8, dequant8(hi, j, sv, zv));
      if (gc.next_slice()) sv = _mm256_set1_ps(s[gc.g]), zv = _mm256_set1_ps(z[gc.g]);
    }
  }
}

#else

float int4_row_dot(const PackedInt4& p, int64_t o, const float* x) {
  const uint32_t* w = p.row_codes(o);
  const float *s = p.row_scale(o), *z = p.row_zero(o);
  GroupCursor gc(p);
  float acc = 0.f;
  for (int64_t c = 0; c < p.in_pad / 128; ++c)
    for (int j = 0; j < 8; ++j) {
      for (int k = 0; k < 16; ++k)
        acc += x[c * 128 + 16 * j + k] * (s[gc.g] * (float((w[c * 16 + k] >> (4 * j)) & 0xF) - z[gc.g]));
      gc.next_slice();
    }
  return acc;
}

void int4_row_dot2(const PackedInt4& p, int64_t o, const float* x, float* y0, float* y1) {
  *y0 = int4_row_dot(p, o, x);
  *y1 = int4_row_dot(p, o + 1, x);
}

void int4_row_dequant(const PackedInt4& p, int64_t o, float* out) { int4_row_dequant_scalar(p, o, out); }

#endif

}  // namespace qbench::cpu
