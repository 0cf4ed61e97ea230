#include "engines/cuda/attention_flash_cuda.h"

#include <cmath>
#include <string>

#include "engines/core/error.h"
#include "engines/cuda/cuda_check.h"
#include "engines/cuda/mma.cuh"
#include "engines/cuda/pdl.cuh"

namespace qbench::cuda {

namespace {

constexpr int kKeys = 64;      // keys per shared-memory tile
constexpr int kThreads = 128;  // 4 warps x 16 query rows = kFlashTileRows
static_assert(kThreads / 32 * 16 == kFlashTileRows, "a warp per 16 query rows");

// Padded rows (D + 8 halves): the 8 row addresses of an ldmatrix fall in distinct banks.
template <int D>
constexpr int smem_bytes() {
  return 2 /*stages*/ * 2 /*K, V*/ * kKeys * (D + 8) * int(sizeof(__half));
}

template <int D>
__global__ void __launch_bounds__(kThreads) flash_kernel(FlashArgs a, float qscale) {
  pdl_enter();
  constexpr int LD = D + 8;
  constexpr int KS = D / 16;  // k-steps of S = Q·Kᵀ
  constexpr int NT = D / 8;   // n-tiles of O
  constexpr int CH = D / 8;   // 16-byte chunks per K/V row
  extern __shared__ __align__(16) unsigned char smem[];
  __half* Ks = reinterpret_cast<__half*>(smem);  // [2][kKeys][LD]
  __half* Vs = Ks + 2 * kKeys * LD;

  // The tile: stacked row and position of its first query, its rows, the sequence's block table.
  int64_t row0, p0;
  int nrows;
  const int32_t* table;
  if (a.tasks) {
    const int4 t = a.tasks[blockIdx.x];
    const int4 sq = a.seqs[t.x];
    row0 = int64_t(sq.x) + t.y;
    p0 = int64_t(sq.y) + t.y;
    nrows = t.z;
    table = a.tables + sq.z;
  } else {
    const int tile = a.n_tiles - 1 - int(blockIdx.x);  // the longest tiles start first
    row0 = int64_t(tile) * kFlashTileRows;
    p0 = a.pos0_table[0] + row0;
    nrows = min(kFlashTileRows, a.rows - int(row0));
    table = a.pos0_table + 1;
  }
  const int h = blockIdx.y, kvh = h / a.group;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, c = lane & 3;
  const int kv_end = int(p0) + nrows;  // keys [0, kv_end) are read
  const int n_kt = (kv_end + kKeys - 1) / kKeys;
  const int wr = warp * 16;  // the warp's first row in the tile
  const bool active = wr < nrows;
  const int wlast = int(p0) + min(wr + 15, nrows - 1);  // the warp's last position
  const int64_t qstride = int64_t(a.n_heads) * D;

  // Q as A fragments, scaled by log2(e)/sqrt(D) (scores in the exp2 domain), hi + lo.
  uint32_t qh[KS][4], ql[KS][4];
#pragma unroll
  for (int ks = 0; ks < KS; ++ks)
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int r = wr + g + 8 * (i & 1), col = 16 * ks + 2 * c + 8 * (i >> 1);
      float2 x = make_float2(0.f, 0.f);
      if (r < nrows) x = *reinterpret_cast<const float2*>(a.q + (row0 + r) * qstride + int64_t(h) * D + col);
      split_half2(x.x * qscale, x.y * qscale, qh[ks][i], ql[ks][i]);
    }
  float o[NT][4];
#pragma unroll
  for (int n = 0; n < NT; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
  const int pos[2] = {int(p0) + wr + g, int(p0) + wr + g + 8};

  const __half* K = static_cast<const __half*>(a.k);
  const __half* V = static_cast<const __half*>(a.v);
  const int bt = int(a.block_tokens);
  auto load_tile = [&](int kt, int buf) {
    for (int i = threadIdx.x; i < kKeys * CH; i += kThreads) {
      const int r = i / CH, ch = i % CH, j = kt * kKeys + r;
      const bool ok = j < kv_end;  // past the end: zeros (finite scores, masked anyway)
      const int64_t off =
          ok ? (int64_t(table[j / bt]) * bt + j % bt) * a.row_elems + int64_t(kvh) * D + ch * 8 : 0;
      cp_async16(Ks + (buf * kKeys + r) * LD + ch * 8, K + off, ok);
      cp_async16(Vs + (buf * kKeys + r) * LD + ch * 8, V + off, ok);
    }
    cp_async_commit();
  };

  load_tile(0, 0);
  for (int kt = 0; kt < n_kt; ++kt) {
    const int buf = kt & 1;
    if (kt + 1 < n_kt) {
      load_tile(kt + 1, buf ^ 1);
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    const int k0 = kt * kKeys;
    if (active && k0 <= wlast) {
      const __half* Kt = Ks + buf * kKeys * LD;
      const __half* Vt = Vs + buf * kKeys * LD;
      // S = Q·Kᵀ for 16 rows x 64 keys: n-tile j holds keys 8j..8j+7.
      float s[8][4];
#pragma unroll
      for (int j = 0; j < 8; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
      // hi products of all 8 tiles, then the lo ones: no MMA waits on the one just issued.
#pragma unroll
      for (int ks = 0; ks < KS; ++ks) {
        // Matrices: keys 16jp..+7 at d 16ks and 16ks+8 (b0, b1 of tile 2jp), then keys 16jp+8..+15 (tile 2jp+1).
        uint32_t b[4][4];
#pragma unroll
        for (int jp = 0; jp < 4; ++jp)
          ldmatrix_x4(b[jp], Kt + (16 * jp + 8 * (lane >> 4) + (lane & 7)) * LD + 16 * ks + 8 * ((lane >> 3) & 1));
#pragma unroll
        for (int jp = 0; jp < 4; ++jp) {
          mma_16816(s[2 * jp], qh[ks][0], qh[ks][1], qh[ks][2], qh[ks][3], b[jp][0], b[jp][1]);
          mma_16816(s[2 * jp + 1], qh[ks][0], qh[ks][1], qh[ks][2], qh[ks][3], b[jp][2], b[jp][3]);
        }
#pragma unroll
        for (int jp = 0; jp < 4; ++jp) {
          mma_16816(s[2 * jp], ql[ks][0], ql[ks][1], ql[ks][2], ql[ks][3], b[jp][0], b[jp][1]);
          mma_16816(s[2 * jp + 1], ql[ks][0], ql[ks][1], ql[ks][2], ql[ks][3], b[jp][2], b[jp][3]);
        }
      }
      if (k0 + kKeys - 1 > int(p0) + wr) {  // causal mask where a key may follow a row
#pragma unroll
        for (int j = 0; j < 8; ++j)
#pragma unroll
          for (int e = 0; e < 4; ++e)
            if (k0 + 8 * j + 2 * c + (e & 1) > pos[e >> 1]) s[j][e] = -INFINITY;
      }
      // Online softmax per row (r = 0: row g, r = 1: row g + 8); a row's 64 scores lie on a quad of lanes.
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float mx = -INFINITY;
#pragma unroll
        for (int j = 0; j < 8; ++j) mx = fmaxf(mx, fmaxf(s[j][2 * r], s[j][2 * r + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float mn = fmaxf(m[r], mx);
        const float mu = mn == -INFINITY ? 0.f : mn;  // a row with no key yet stays empty
        const float corr = exp2f(m[r] - mu);
        m[r] = mn;
        l[r] *= corr;
#pragma unroll
        for (int n = 0; n < NT; ++n) {
          o[n][2 * r] *= corr;
          o[n][2 * r + 1] *= corr;
        }
#pragma unroll
        for (int j = 0; j < 8; ++j) {
          s[j][2 * r] = exp2f(s[j][2 * r] - mu);
          s[j][2 * r + 1] = exp2f(s[j][2 * r + 1] - mu);
          l[r] += s[j][2 * r] + s[j][2 * r + 1];
        }
      }
      // O += P·V: the S accumulators of tiles 2kk, 2kk+1 are P's A fragment for keys 16kk..16kk+15.
#pragma unroll
      for (int kk = 0; kk < 4; ++kk) {
        uint32_t ph[4], pl[4];
        split_half2(s[2 * kk][0], s[2 * kk][1], ph[0], pl[0]);
        split_half2(s[2 * kk][2], s[2 * kk][3], ph[1], pl[1]);
        split_half2(s[2 * kk + 1][0], s[2 * kk + 1][1], ph[2], pl[2]);
        split_half2(s[2 * kk + 1][2], s[2 * kk + 1][3], ph[3], pl[3]);
        // Two 16-wide d slices at a time (4 n-tiles): hi products, then lo.
#pragma unroll
        for (int np = 0; np < NT / 2; np += 2) {
          constexpr int kHalfNt = NT / 2;
          const bool two = np + 1 < kHalfNt;  // resolved at compile time (unrolled)
          // Transposed: keys 16kk..+7 and +8..+15 at d 16np (b0, b1 of n-tile 2np), then at d 16np+8.
          uint32_t b[2][4];
#pragma unroll
          for (int u = 0; u < 2; ++u)
            if (u == 0 || two)
              ldmatrix_x4_trans(b[u], Vt + (16 * kk + 8 * ((lane >> 3) & 1) + (lane & 7)) * LD + 16 * (np + u) + 8 * (lane >> 4));
#pragma unroll
          for (int u = 0; u < 2; ++u)
            if (u == 0 || two) {
              mma_16816(o[2 * (np + u)], ph[0], ph[1], ph[2], ph[3], b[u][0], b[u][1]);
              mma_16816(o[2 * (np + u) + 1], ph[0], ph[1], ph[2], ph[3], b[u][2], b[u][3]);
            }
#pragma unroll
          for (int u = 0; u < 2; ++u)
            if (u == 0 || two) {
              mma_16816(o[2 * (np + u)], pl[0], pl[1], pl[2], pl[3], b[u][0], b[u][1]);
              mma_16816(o[2 * (np + u) + 1], pl[0], pl[1], pl[2], pl[3], b[u][2], b[u][3]);
            }
        }
      }
    }
    __syncthreads();  // this buffer is refilled by the next iteration's load
  }
  if (!active) return;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    const int row = wr + g + 8 * r;
    if (row >= nrows) continue;
    const float inv = 1.f / l[r];
    float* dst = a.out + (row0 + row) * qstride + int64_t(h) * D;
#pragma unroll
    for (int n = 0; n < NT; ++n)
      *reinterpret_cast<float2*>(dst + 8 * n + 2 * c) = make_float2(o[n][2 * r] * inv, o[n][2 * r + 1] * inv);
  }
}

template <int D>
void launch_d(const FlashArgs& a, cudaStream_t s) {
  static const bool attr = [] {
    QB_CUDA(cudaFuncSetAttribute(flash_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, smem_bytes<D>()));
    return true;
  }();
  (void)attr;
  const float qscale = 1.4426950408889634f / std::sqrt(float(D));  // log2(e) / sqrt(D)
  launch_pdl(flash_kernel<D>, dim3(unsigned(a.n_tiles), unsigned(a.n_heads)), kThreads, size_t(smem_bytes<D>()), s, a,
             qscale);
  QB_CUDA_LAUNCH("flash attention");
}

}  // namespace

bool flash_attention_supports(int64_t head_dim) {
  return head_dim == 32 || head_dim == 64 || head_dim == 80 || head_dim == 96 || head_dim == 128;
}

void launch_flash_attention(const FlashArgs& a, cudaStream_t s) {
  switch (a.head_dim) {
    case 32: return launch_d<32>(a, s);
    case 64: return launch_d<64>(a, s);
    case 80: return launch_d<80>(a, s);
    case 96: return launch_d<96>(a, s);
    case 128: return launch_d<128>(a, s);
    default: throw Error("flash attention: head_dim " + std::to_string(a.head_dim) + " is not instantiated");
  }
}

}  // namespace qbench::cuda
