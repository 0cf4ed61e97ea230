#include "engines/cpu/int4_vnni.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "engines/core/error.h"

namespace qbench::cpu {

namespace {

// How far ahead (in 64-byte chunks of one row) the GEMV prefetches codes. Measured on the
// 2-vCPU Zen 4 VM, 1536x8960 int4 GEMV from DRAM: 14.4 GB/s without, 17-20 GB/s at 16-96,
// flat from 24 on: the hardware prefetcher alone leaves this compute-dense stream latency-bound.
constexpr int64_t kPrefetchChunks = 32;

inline int64_t chunk_group(const PackedInt4& p, int64_t c) {
  return p.groups == 1 ? 0 : std::min<int64_t>(c * 128 / p.group_size, p.groups - 1);
}

}  // namespace

void int4_quantize_act_i16(const PackedInt4& p, const float* xp, Int4ActI16& a) {
  const int64_t chunks = p.in_pad / 128;
  a.xq.resize(size_t(p.in_pad));
  a.chunk_scale.resize(size_t(chunks));
  a.chunk_sum.resize(size_t(chunks));
  for (int64_t c = 0; c < chunks; ++c) {
    const float* x = xp + c * 128;
    float amax = 0.f;
    for (int i = 0; i < 128; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float scale = amax / 32767.f, inv = amax > 0.f ? 32767.f / amax : 0.f;
    int16_t* q = a.xq.data() + c * 128;
    int64_t sum = 0;
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 16; ++k) {
        const int16_t lo = int16_t(std::lrint(x[16 * j + k] * inv));
        const int16_t hi = int16_t(std::lrint(x[16 * (j + 4) + k] * inv));
        q[32 * j + 2 * k] = lo;
        q[32 * j + 2 * k + 1] = hi;
        sum += lo + hi;
      }
    a.chunk_scale[size_t(c)] = scale;
    a.chunk_sum[size_t(c)] = scale * float(sum);
  }
}

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)

bool int4_vnni_usable(const PackedInt4& p) { return p.groups == 1 || p.group_size % 128 == 0; }

namespace {

// One chunk's 128 activations as the four int16-pair vectors its code words meet.
struct ChunkX {
  __m512i x[4];
};
inline ChunkX load_chunk_x(const int16_t* xq) {
  return {{_mm512_loadu_si512(xq), _mm512_loadu_si512(xq + 32), _mm512_loadu_si512(xq + 64), _mm512_loadu_si512(xq + 96)}};
}

// Σ over one chunk of code · xq for the 16 words in v (int32 lanes), as two 2-deep
// chains (j = 0, 2 and j = 1, 3): vpdpwssd's latency, not its throughput, bounded
// a single 4-deep chain. Integer sums, so the order changes nothing.
inline __m512i chunk_dot(__m512i v, const ChunkX& c) {
  const __m512i mask = _mm512_set1_epi32(0x000F000F), z = _mm512_setzero_si512();
  const __m512i a = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(z, _mm512_and_si512(v, mask), c.x[0]),
                                        _mm512_and_si512(_mm512_srli_epi32(v, 8), mask), c.x[2]);
  const __m512i b = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(z, _mm512_and_si512(_mm512_srli_epi32(v, 4), mask), c.x[1]),
                                        _mm512_and_si512(_mm512_srli_epi32(v, 12), mask), c.x[3]);
  return _mm512_add_epi32(a, b);
}

}  // namespace

float int4_row_dot_vnni(const PackedInt4& p, int64_t o, const Int4ActI16& a) {
  const uint32_t* w = p.row_codes(o);
  const float *s = p.row_scale(o), *z = p.row_zero(o);
  __m512 acc = _mm512_setzero_ps();
  float zterm = 0.f;
  for (int64_t c = 0; c < p.in_pad / 128; ++c) {
    const int64_t g = chunk_group(p, c);
    const __m512i d = chunk_dot(_mm512_load_si512(w + c * 16), load_chunk_x(a.xq.data() + c * 128));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_set1_ps(s[g] * a.chunk_scale[size_t(c)]), acc);
    zterm += s[g] * z[g] * a.chunk_sum[size_t(c)];
  }
  return _mm512_reduce_add_ps(acc) - zterm;
}

void int4_row_dot2_vnni(const PackedInt4& p, int64_t o, const Int4ActI16& a, float* y0, float* y1) {
  const uint32_t *w0 = p.row_codes(o), *w1 = p.row_codes(o + 1);
  const float *s0 = p.row_scale(o), *z0 = p.row_zero(o), *s1 = p.row_scale(o + 1), *z1 = p.row_zero(o + 1);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  float zt0 = 0.f, zt1 = 0.f;
  for (int64_t c = 0; c < p.in_pad / 128; ++c) {
    const int64_t g = chunk_group(p, c);
    _mm_prefetch(reinterpret_cast<const char*>(w0 + (c + kPrefetchChunks) * 16), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(w1 + (c + kPrefetchChunks) * 16), _MM_HINT_T0);
    const ChunkX x = load_chunk_x(a.xq.data() + c * 128);  // shared by both rows
    const __m512i d0 = chunk_dot(_mm512_load_si512(w0 + c * 16), x), d1 = chunk_dot(_mm512_load_si512(w1 + c * 16), x);
    const float ac = a.chunk_scale[size_t(c)], cs = a.chunk_sum[size_t(c)];
    acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d0), _mm512_set1_ps(s0[g] * ac), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d1), _mm512_set1_ps(s1[g] * ac), acc1);
    zt0 += s0[g] * z0[g] * cs;
    zt1 += s1[g] * z1[g] * cs;
  }
  *y0 = _mm512_reduce_add_ps(acc0) - zt0;
  *y1 = _mm512_reduce_add_ps(acc1) - zt1;
}

#else

bool int4_vnni_usable(const PackedInt4&) { return false; }
float int4_row_dot_vnni(const PackedInt4&, int64_t, const Int4ActI16&) {
  throw Error("internal: int4 VNNI kernel called in a build without AVX-512 VNNI");
}
void int4_row_dot2_vnni(const PackedInt4&, int64_t, const Int4ActI16&, float*, float*) {
  throw Error("internal: int4 VNNI kernel called in a build without AVX-512 VNNI");
}

#endif

}  // namespace qbench::cpu
