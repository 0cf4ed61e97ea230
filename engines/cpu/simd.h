#pragma once
// Vector helpers for the CPU kernels, selected at compile time by the target ISA
// (-march=native by default): AVX-512F, else AVX2+FMA+F16C, else scalar.
#include <immintrin.h>

#include <cstdint>
#include <type_traits>

#include "engines/core/half.h"

namespace qbench::cpu {

#if defined(__AVX512F__)
constexpr const char* kSimdName = "avx512";
#elif defined(__AVX2__) && defined(__F16C__) && defined(__FMA__)
constexpr const char* kSimdName = "avx2";
#else
constexpr const char* kSimdName = "scalar";
#endif

// Element loaders: 16 (AVX-512) or 8 (AVX2) values widened to float.
#if defined(__AVX512F__)
inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 load16(const uint16_t* p) {  // F16
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 load16_bf16(const uint16_t* p) {
  __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}
#elif defined(__AVX2__) && defined(__F16C__) && defined(__FMA__)
inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline __m256 load8_bf16(const uint16_t* p) {
  __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}
inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#endif

// Weight storage tags for the dense kernels.
struct F32W { using T = float; static float get(const float* p, int64_t i) { return p[i]; } };
struct F16W { using T = uint16_t; static float get(const uint16_t* p, int64_t i) { return f16_to_f32(p[i]); } };
struct BF16W { using T = uint16_t; static float get(const uint16_t* p, int64_t i) { return bf16_to_f32(p[i]); } };

// dot(x[0..n), w[0..n)) with w widened to float; FP32 accumulation.
template <class W>
inline float dot(const float* x, const typename W::T* w, int64_t n) {
  int64_t i = 0;
  float s = 0.f;
#if defined(__AVX512F__)
  auto ld = [](const typename W::T* p) {
    if constexpr (std::is_same_v<W, F32W>) return load16(p);
    else if constexpr (std::is_same_v<W, F16W>) return load16(p);
    else return load16_bf16(p);
  };
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
  for (; i + 64 <= n; i += 64) {
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), ld(w + i), a0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), ld(w + i + 16), a1);
    a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 32), ld(w + i + 32), a2);
    a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 48), ld(w + i + 48), a3);
  }
  for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), ld(w + i), a0);
  s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
#elif defined(__AVX2__) && defined(__F16C__) && defined(__FMA__)
  auto ld = [](const typename W::T* p) {
    if constexpr (std::is_same_v<W, F32W>) return load8(p);
    else if constexpr (std::is_same_v<W, F16W>) return load8(p);
    else return load8_bf16(p);
  };
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), ld(w + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), ld(w + i + 8), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), ld(w + i + 16), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), ld(w + i + 24), a3);
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), ld(w + i), a0);
  s = hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
#endif
  for (; i < n; ++i) s += x[i] * W::get(w, i);
  return s;
}

// out[0..n) = widen(w[0..n))
template <class W>
inline void widen(const typename W::T* w, float* out, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<W, F16W>) for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, load16(w + i));
  if constexpr (std::is_same_v<W, BF16W>) for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, load16_bf16(w + i));
#elif defined(__AVX2__) && defined(__F16C__)
  if constexpr (std::is_same_v<W, F16W>) for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, load8(w + i));
  if constexpr (std::is_same_v<W, BF16W>) for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, load8_bf16(w + i));
#endif
  for (; i < n; ++i) out[i] = W::get(w, i);
}

}  // namespace qbench::cpu

namespace qbench::cpu {

// out[0..n) += a * widen(w[0..n))
template <class W>
inline void axpy(float a, const typename W::T* w, float* out, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  const __m512 va = _mm512_set1_ps(a);
  for (; i + 16 <= n; i += 16) {
    __m512 wv;
    if constexpr (std::is_same_v<W, BF16W>) wv = load16_bf16(w + i);
    else wv = load16(w + i);
    _mm512_storeu_ps(out + i, _mm512_fmadd_ps(va, wv, _mm512_loadu_ps(out + i)));
  }
#elif defined(__AVX2__) && defined(__F16C__) && defined(__FMA__)
  const __m256 va = _mm256_set1_ps(a);
  for (; i + 8 <= n; i += 8) {
    __m256 wv;
    if constexpr (std::is_same_v<W, BF16W>) wv = load8_bf16(w + i);
    else wv = load8(w + i);
    _mm256_storeu_ps(out + i, _mm256_fmadd_ps(va, wv, _mm256_loadu_ps(out + i)));
  }
#endif
  for (; i < n; ++i) out[i] += a * W::get(w, i);
}

}  // namespace qbench::cpu
