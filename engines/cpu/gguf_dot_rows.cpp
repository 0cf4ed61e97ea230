// Four-row AVX2 / AVX-512-VNNI kernels (see gguf_dot_rows.h). Compared with
// the one-row kernels in gguf_dot_simd.cpp they also drop per-block scalar
// work: zero-point sums come from one vpdpbusd shared by the rows, K-quant
// scales are decoded with 32-bit masks and applied as int16 multipliers
// (maddubs + madd) instead of 32-bit multiplies, and the K-quant min terms
// are one madd against the activation's pairwise block sums.
#include "engines/cpu/gguf_dot_rows.h"

#include <immintrin.h>

#include <cstring>

#include "engines/quant/block_layouts.h"

namespace qbench::cpu {

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

namespace {

using namespace quant;
constexpr int R = kDotRows;

inline float h(uint16_t v) { return _cvtsh_ss(v); }
inline uint16_t ld16(const uint8_t* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }
inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int hsum_i32(__m128i s) {
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// acc + per 32-bit lane sum of 4 products u8 · s8 (callers keep it exact: no int16 saturation).
inline __m256i dpbusd(__m256i acc, __m256i u, __m256i s) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpbusd_epi32(acc, u, s);
#else
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
#endif
}

// acc + per 32-bit lane sum of 2 products s16 · s16.
inline __m256i dpwssd(__m256i acc, __m256i a, __m256i b) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpwssd_epi32(acc, a, b);
#else
  return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
#endif
}

inline __m256i nibbles32(const uint8_t* qs) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i m = _mm_set1_epi8(0xF);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m));
}

inline __m256i bits_to_0x10(const uint8_t* qh) {
  uint32_t x;
  std::memcpy(&x, qh, 4);
  const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
  __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32(int(x)), shuf);
  b = _mm256_or_si256(b, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
  return _mm256_and_si256(_mm256_cmpeq_epi8(b, _mm256_set1_epi64x(-1)), _mm256_set1_epi8(0x10));
}

void dot_q8_0(const uint8_t* const* w, const void* a, int64_t n, float* out) {
  const auto* y = static_cast<const BlockQ8_0*>(a);
  __m256 acc[R];
  for (auto& v : acc) v = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / 32; ++i) {
    const __m256i qy = load32(y[i].qs);
    const float dy = h(y[i].d);
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    // x·y = (x+128)·y - 128·Σy: one unsigned operand for vpdpbusd, the Σy term shared by the rows.
    const __m256i k80 = _mm256_set1_epi8(char(0x80));
    const __m256i base = _mm256_sub_epi32(_mm256_setzero_si256(), dpbusd(_mm256_setzero_si256(), k80, qy));
#endif
    for (int r = 0; r < R; ++r) {
      const auto* x = reinterpret_cast<const BlockQ8_0*>(w[r]) + i;
      const __m256i qx = load32(x->qs);
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
      const __m256i p = dpbusd(base, _mm256_xor_si256(qx, k80), qy);
#else
      const __m256i p = dpbusd(_mm256_setzero_si256(), _mm256_sign_epi8(qx, qx), _mm256_sign_epi8(qy, qx));
#endif
      acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(h(x->d) * dy), _mm256_cvtepi32_ps(p), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) out[r] = hsum(acc[r]);
}

// Q4_0 / Q5_0: unsigned codes minus the offset 8 / 16; the offset·Σy term is shared by the rows.
template <bool kFive>
void dot_q4q5_0(const uint8_t* const* w, const void* a, int64_t n, float* out) {
  const auto* y = static_cast<const BlockQ8_0*>(a);
  const int64_t bb = kFive ? sizeof(BlockQ5_0) : sizeof(BlockQ4_0);
  const __m256i off = _mm256_set1_epi8(kFive ? 16 : 8);
  __m256 acc[R];
  for (auto& v : acc) v = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / 32; ++i) {
    const __m256i qy = load32(y[i].qs);
    const float dy = h(y[i].d);
    const __m256i base = _mm256_sub_epi32(_mm256_setzero_si256(), dpbusd(_mm256_setzero_si256(), off, qy));
    for (int r = 0; r < R; ++r) {
      const uint8_t* b = w[r] + i * bb;
      __m256i q = nibbles32(b + (kFive ? 6 : 2));
      if constexpr (kFive) q = _mm256_or_si256(q, bits_to_0x10(b + 2));
      const __m256i p = dpbusd(base, q, qy);
      acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(h(ld16(b)) * dy), _mm256_cvtepi32_ps(p), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) out[r] = hsum(acc[r]);
}

template <bool kFive>
void dot_q4q5_1(const uint8_t* const* w, const void* a, int64_t n, float* out) {
  const auto* y = static_cast<const BlockQ8_1*>(a);
  const int64_t bb = kFive ? sizeof(BlockQ5_1) : sizeof(BlockQ4_1);
  __m256 acc[R];
  float summ[R] = {};
  for (auto& v : acc) v = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / 32; ++i) {
    const __m256i qy = load32(y[i].qs);
    const float dy = h(y[i].d), sy = h(y[i].s);
    for (int r = 0; r < R; ++r) {
      const uint8_t* b = w[r] + i * bb;
      __m256i q = nibbles32(b + (kFive ? 8 : 4));
      if constexpr (kFive) q = _mm256_or_si256(q, bits_to_0x10(b + 4));
      const __m256i p = dpbusd(_mm256_setzero_si256(), q, qy);
      acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(h(ld16(b)) * dy), _mm256_cvtepi32_ps(p), acc[r]);
      summ[r] += h(ld16(b + 2)) * sy;
    }
  }
  for (int r = 0; r < R; ++r) out[r] = hsum(acc[r]) + summ[r];
}

// The 8 six-bit scales (low 8 bytes) and mins (high 8 bytes) of a Q4_K/Q5_K block, as scale_min_k4 gives them.
inline __m128i scales_mins_k4(const uint8_t* s) {
  uint32_t u[3];
  std::memcpy(u, s, 12);
  const uint32_t m6 = 0x3f3f3f3f, m4 = 0x0f0f0f0f, m2 = 0x03030303;
  const uint32_t sc_lo = u[0] & m6, mn_lo = u[1] & m6;
  const uint32_t sc_hi = (u[2] & m4) | (((u[0] >> 6) & m2) << 4);
  const uint32_t mn_hi = ((u[2] >> 4) & m4) | (((u[1] >> 6) & m2) << 4);
  return _mm_set_epi32(int(mn_hi), int(mn_lo), int(sc_hi), int(sc_lo));
}

// Broadcast int16 lane k of v (8 lanes, one per 128-bit half) to the whole register.
template <int k>
inline __m256i bcast16(__m256i v) {
  return _mm256_shuffle_epi8(v, _mm256_set1_epi16(short((2 * k + 1) << 8 | 2 * k)));
}

template <bool kFive>
void dot_q4q5_k(const uint8_t* const* w, const void* a, int64_t n, float* out) {
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const int64_t bb = kFive ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K);
  const __m256i m4 = _mm256_set1_epi8(0xF), bit4 = _mm256_set1_epi8(0x10);
  __m256 acc[R];
  float accm[R] = {};
  for (auto& v : acc) v = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const float dy = y[i].d;
    // Σy over each 32-element sub-block (pairs of the 16-element bsums).
    const __m128i bs = _mm_hadd_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(y[i].bsums)),
                                      _mm_loadu_si128(reinterpret_cast<const __m128i*>(y[i].bsums + 8)));
    for (int r = 0; r < R; ++r) {
      const uint8_t* b = w[r] + i * bb;
      const __m128i sm = scales_mins_k4(b + 4);
      const int sum_m = hsum_i32(_mm_madd_epi16(_mm_cvtepu8_epi16(_mm_srli_si128(sm, 8)), bs));
      const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
      const uint8_t* qs = b + (kFive ? 48 : 16);
      const __m256i hv = kFive ? load32(b + 16) : _mm256_setzero_si256();
      __m256i sumi = _mm256_setzero_si256();
      auto step = [&]<int j>() {
        const __m256i q = load32(qs + 32 * j);
        __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        if constexpr (kFive) {
          lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hv, 2 * j), 4), bit4));
          hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hv, 2 * j + 1), 4), bit4));
        }
        // Codes ≤ 31 times |y| ≤ 128, two per int16: no saturation in maddubs.
        const __m256i p0 = _mm256_maddubs_epi16(lo, load32(y[i].qs + 64 * j));
        const __m256i p1 = _mm256_maddubs_epi16(hi, load32(y[i].qs + 64 * j + 32));
        sumi = dpwssd(sumi, p0, bcast16<2 * j>(sc));
        sumi = dpwssd(sumi, p1, bcast16<2 * j + 1>(sc));
      };
      step.template operator()<0>();
      step.template operator()<1>();
      step.template operator()<2>();
      step.template operator()<3>();
      acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(h(ld16(b)) * dy), _mm256_cvtepi32_ps(sumi), acc[r]);
      accm[r] += h(ld16(b + 2)) * dy * float(sum_m);
    }
  }
  for (int r = 0; r < R; ++r) out[r] = hsum(acc[r]) - accm[r];
}

void dot_q6_k(const uint8_t* const* w, const void* a, int64_t n, float* out) {
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const __m256i m4 = _mm256_set1_epi8(0xF), m30 = _mm256_set1_epi8(0x30);
  __m256 acc[R];
  for (auto& v : acc) v = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const float dy = y[i].d;
    const __m256i bsums = load32(y[i].bsums);
    for (int r = 0; r < R; ++r) {
      const auto* x = reinterpret_cast<const BlockQ6_K*>(w[r]) + i;
      const __m128i s8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x->scales));
      // Codes are stored +32: subtract 32·Σ scale·Σy per 16 elements, lane-wise.
      __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(),
                                      _mm256_slli_epi32(_mm256_madd_epi16(_mm256_cvtepi8_epi16(s8), bsums), 5));
      for (int half = 0; half < 2; ++half) {
        const uint8_t* ql = x->ql + 64 * half;
        const __m256i l0 = load32(ql), l1 = load32(ql + 32), qh = load32(x->qh + 32 * half);
        const __m256i q[4] = {
            _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30)),
            _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, m30)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30)),
        };
        const int8_t* ay = y[i].qs + 128 * half;
        for (int k = 0; k < 4; ++k) {
          // Scales s[2k] for the first 16 elements, s[2k+1] for the next 16, as int16.
          const int idx = 8 * half + 2 * k;
          const __m128i pick = _mm_set_epi64x(0x0101010101010101LL * (idx + 1), 0x0101010101010101LL * idx);
          const __m256i scv = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(s8, pick));
          // Codes ≤ 63 times |y| ≤ 128, two per int16: no saturation.
          sumi = dpwssd(sumi, _mm256_maddubs_epi16(q[k], load32(ay + 32 * k)), scv);
        }
      }
      acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(h(x->d) * dy), _mm256_cvtepi32_ps(sumi), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) out[r] = hsum(acc[r]);
}

}  // namespace

GgufDotRowsFn gguf_dot_rows_kernel(quant::GgmlType t) {
  using quant::GgmlType;
  switch (t) {
    case GgmlType::Q8_0: return dot_q8_0;
    case GgmlType::Q4_0: return dot_q4q5_0<false>;
    case GgmlType::Q5_0: return dot_q4q5_0<true>;
    case GgmlType::Q4_1: return dot_q4q5_1<false>;
    case GgmlType::Q5_1: return dot_q4q5_1<true>;
    case GgmlType::Q4_K: return dot_q4q5_k<false>;
    case GgmlType::Q5_K: return dot_q4q5_k<true>;
    case GgmlType::Q6_K: return dot_q6_k;
    default: return nullptr;
  }
}

#else

GgufDotRowsFn gguf_dot_rows_kernel(quant::GgmlType) { return nullptr; }

#endif

}  // namespace qbench::cpu
