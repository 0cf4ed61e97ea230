// AVX2 kernels (with AVX-512 VNNI's vpdpbusd for the u8·s8 products where the
// build has it) for the GGUF dot products. Same integer arithmetic as
// quant::vec_dot_ref; only the order of the float sums differs.
#include "engines/cpu/gguf_dot_simd.h"

#include <immintrin.h>

#include <cstring>

#include "engines/core/half.h"
#include "engines/quant/block_layouts.h"

namespace qbench::cpu {

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

namespace {

using namespace quant;

inline float h(uint16_t v) { return _cvtsh_ss(v); }

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// Per 32-bit lane: sum of 4 products u8 · s8 (u ≤ 127·… never saturates for our ranges).
inline __m256i dot_u8s8(__m256i u, __m256i s) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}

inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// 16 bytes of nibbles -> 32 bytes: low nibbles (values 0..15) then high nibbles (16..31).
inline __m256i nibbles32(const uint8_t* qs) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i m = _mm_set1_epi8(0xF);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m));
}

// 32 bits -> 32 bytes of 0x10 where the bit is set (bit k <-> byte k).
inline __m256i bits_to_0x10(const uint8_t* qh) {
  uint32_t x;
  std::memcpy(&x, qh, 4);
  const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
  __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32(int(x)), shuf);
  b = _mm256_or_si256(b, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
  return _mm256_and_si256(_mm256_cmpeq_epi8(b, _mm256_set1_epi64x(-1)), _mm256_set1_epi8(0x10));
}

float dot_q8_0(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ8_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / 32; ++i) {
    const __m256i qx = load32(x[i].qs), qy = load32(y[i].qs);
    const __m256i p = dot_u8s8(_mm256_sign_epi8(qx, qx), _mm256_sign_epi8(qy, qx));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(h(x[i].d) * h(y[i].d)), _mm256_cvtepi32_ps(p), acc);
  }
  return hsum(acc);
}

template <bool kFive>
float dot_q4q5_0(const void* w, const void* a, int64_t n) {
  const auto* y = static_cast<const BlockQ8_0*>(a);
  const int64_t bb = kFive ? sizeof(BlockQ5_0) : sizeof(BlockQ4_0);
  const __m256i off = _mm256_set1_epi8(kFive ? 16 : 8);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / 32; ++i) {
    const uint8_t* b = static_cast<const uint8_t*>(w) + i * bb;
    uint16_t d;
    std::memcpy(&d, b, 2);
    __m256i q = nibbles32(b + (kFive ? 6 : 2));
    if constexpr (kFive) q = _mm256_or_si256(q, bits_to_0x10(b + 2));
    const __m256i qy = load32(y[i].qs);
    const __m256i p = _mm256_sub_epi32(dot_u8s8(q, qy), dot_u8s8(off, qy));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(h(d) * h(y[i].d)), _mm256_cvtepi32_ps(p), acc);
  }
  return hsum(acc);
}

template <bool kFive>
float dot_q4q5_1(const void* w, const void* a, int64_t n) {
  const auto* y = static_cast<const BlockQ8_1*>(a);
  const int64_t bb = kFive ? sizeof(BlockQ5_1) : sizeof(BlockQ4_1);
  __m256 acc = _mm256_setzero_ps();
  float summ = 0;
  for (int64_t i = 0; i < n / 32; ++i) {
    const uint8_t* b = static_cast<const uint8_t*>(w) + i * bb;
    uint16_t d, m;
    std::memcpy(&d, b, 2);
    std::memcpy(&m, b + 2, 2);
    __m256i q = nibbles32(b + (kFive ? 8 : 4));
    if constexpr (kFive) q = _mm256_or_si256(q, bits_to_0x10(b + 4));
    const __m256i p = dot_u8s8(q, load32(y[i].qs));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(h(d) * h(y[i].d)), _mm256_cvtepi32_ps(p), acc);
    summ += h(m) * h(y[i].s);
  }
  return hsum(acc) + summ;
}

// The 8 six-bit scales and mins of a Q4_K/Q5_K block (12 bytes) in four 32-bit
// operations instead of eight scale_min_k4 calls: bytes 0-3 hold scales 0-3 (low
// 6 bits) and the top 2 bits of scales 4-7, bytes 4-7 the same for the mins,
// bytes 8-11 the low 4 bits of scales 4-7 (low nibbles) and mins 4-7 (high nibbles).
// With this (and mins_dot_bsums) the bare q4_k GEMV on the 2-vCPU VM went from
// 28.2-28.4 to 33.3-34.7 GB/s.
inline void unpack_scales_mins_k4(const uint8_t* q, uint8_t sc[8], uint8_t mn[8]) {
  uint32_t u0, u1, u2;
  std::memcpy(&u0, q, 4);
  std::memcpy(&u1, q + 4, 4);
  std::memcpy(&u2, q + 8, 4);
  const uint32_t s_lo = u0 & 0x3f3f3f3fu, m_lo = u1 & 0x3f3f3f3fu;
  const uint32_t s_hi = (u2 & 0x0f0f0f0fu) | (((u0 >> 6) & 0x03030303u) << 4);
  const uint32_t m_hi = ((u2 >> 4) & 0x0f0f0f0fu) | (((u1 >> 6) & 0x03030303u) << 4);
  std::memcpy(sc, &s_lo, 4);
  std::memcpy(sc + 4, &s_hi, 4);
  std::memcpy(mn, &m_lo, 4);
  std::memcpy(mn + 4, &m_hi, 4);
}

// Σ_j mn[j] · (bsums[2j] + bsums[2j+1]): pair sums (|.| ≤ 2·16·128, int16) times the
// mins, with two 128-bit multiply-adds.
inline int mins_dot_bsums(const uint8_t mn[8], const int16_t bsums[16]) {
  const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bsums));
  const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bsums + 8));
  uint64_t m8;
  std::memcpy(&m8, mn, 8);
  const __m128i p = _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(int64_t(m8))), _mm_hadd_epi16(lo, hi));
  __m128i t = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0x4e));
  t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
  return _mm_cvtsi128_si32(t);
}

// Q4_K / Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins.
template <bool kFive>
float dot_q4q5_k(const void* w, const void* a, int64_t n) {
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const int64_t bb = kFive ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K);
  const __m256i m4 = _mm256_set1_epi8(0xF), bit4 = _mm256_set1_epi8(0x10);
  __m256 acc = _mm256_setzero_ps();
  float accm = 0;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const uint8_t* b = static_cast<const uint8_t*>(w) + i * bb;
    uint16_t d, dmin;
    std::memcpy(&d, b, 2);
    std::memcpy(&dmin, b + 2, 2);
    const uint8_t* scales = b + 4;
    const uint8_t* qh = b + 16;
    const uint8_t* qs = b + (kFive ? 48 : 16);
    uint8_t sc[8], mn[8];
    unpack_scales_mins_k4(scales, sc, mn);
    const int sum_m = mins_dot_bsums(mn, y[i].bsums);
    const __m256i hv = kFive ? load32(qh) : _mm256_setzero_si256();
    __m256i sumi = _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j) {
      const __m256i q = load32(qs + 32 * j);
      __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
      if constexpr (kFive) {
        lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hv, 2 * j), 4), bit4));
        hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(hv, 2 * j + 1), 4), bit4));
      }
      const __m256i p0 = dot_u8s8(lo, load32(y[i].qs + 64 * j));
      const __m256i p1 = dot_u8s8(hi, load32(y[i].qs + 64 * j + 32));
      sumi = _mm256_add_epi32(sumi, _mm256_mullo_epi32(p0, _mm256_set1_epi32(sc[2 * j])));
      sumi = _mm256_add_epi32(sumi, _mm256_mullo_epi32(p1, _mm256_set1_epi32(sc[2 * j + 1])));
    }
    const float dy = y[i].d;
    acc = _mm256_fmadd_ps(_mm256_set1_ps(h(d) * dy), _mm256_cvtepi32_ps(sumi), acc);
    accm += h(dmin) * dy * float(sum_m);
  }
  return hsum(acc) - accm;
}

float dot_q6_k(const void* w, const void* a, int64_t n) {
  const auto* x = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  const __m256i m4 = _mm256_set1_epi8(0xF), m30 = _mm256_set1_epi8(0x30);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const int8_t* sc = x[i].scales;
    int corr = 0;
    for (int k = 0; k < 16; ++k) corr += sc[k] * y[i].bsums[k];
    __m256i sumi = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = x[i].ql + 64 * half;
      const __m256i l0 = load32(ql), l1 = load32(ql + 32), qh = load32(x[i].qh + 32 * half);
      const __m256i q[4] = {
          _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30)),
          _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, m30)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30)),
      };
      const int8_t* s = sc + 8 * half;
      const int8_t* ay = y[i].qs + 128 * half;
      for (int k = 0; k < 4; ++k) {
        const __m256i p = dot_u8s8(q[k], load32(ay + 32 * k));
        const __m256i scv = _mm256_setr_epi32(s[2 * k], s[2 * k], s[2 * k], s[2 * k], s[2 * k + 1], s[2 * k + 1],
                                              s[2 * k + 1], s[2 * k + 1]);
        sumi = _mm256_add_epi32(sumi, _mm256_mullo_epi32(p, scv));
      }
    }
    const int total = hsum_i32(sumi) - 32 * corr;
    acc = _mm256_add_ps(acc, _mm256_set_ps(0, 0, 0, 0, 0, 0, 0, h(x[i].d) * y[i].d * float(total)));
  }
  return hsum(acc);
}

// Float types: weights and activations of the same storage type, FP32 FMA.
template <int kKind>  // 0 f32, 1 f16, 2 bf16
float dot_float(const void* w, const void* a, int64_t n) {
  int64_t i = 0;
  float s = 0;
#if defined(__AVX512F__)
  auto ld = [](const void* p, int64_t k) {
    if constexpr (kKind == 0) return _mm512_loadu_ps(static_cast<const float*>(p) + k);
    else if constexpr (kKind == 1)
      return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(p) + k)));
    else
      return _mm512_castsi512_ps(_mm512_slli_epi32(
          _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(p) + k))), 16));
  };
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  for (; i + 32 <= n; i += 32) {
    a0 = _mm512_fmadd_ps(ld(w, i), ld(a, i), a0);
    a1 = _mm512_fmadd_ps(ld(w, i + 16), ld(a, i + 16), a1);
  }
  for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(ld(w, i), ld(a, i), a0);
  s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
#endif
  for (; i < n; ++i) {
    if constexpr (kKind == 0) s += static_cast<const float*>(w)[i] * static_cast<const float*>(a)[i];
    else if constexpr (kKind == 1) s += h(static_cast<const uint16_t*>(w)[i]) * h(static_cast<const uint16_t*>(a)[i]);
    else s += bf16_to_f32(static_cast<const uint16_t*>(w)[i]) * bf16_to_f32(static_cast<const uint16_t*>(a)[i]);
  }
  return s;
}

}  // namespace

GgufDotFn simd_dot_kernel(quant::GgmlType t) {
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
    case GgmlType::F32: return dot_float<0>;
    case GgmlType::F16: return dot_float<1>;
    case GgmlType::BF16: return dot_float<2>;
    default: return nullptr;
  }
}

const char* simd_dot_isa() {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return "avx512vnni";
#else
  return "avx2";
#endif
}

#else  // no AVX2: the scalar reference serves every type

GgufDotFn simd_dot_kernel(quant::GgmlType) { return nullptr; }
const char* simd_dot_isa() { return "scalar"; }

#endif

}  // namespace qbench::cpu
