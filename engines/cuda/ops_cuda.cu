#include "engines/cuda/ops_cuda.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "engines/core/env_flag.h"
#include "engines/core/error.h"
#include "engines/cuda/argmax_cuda.h"
#include "engines/cuda/attention_cuda.h"
#include "engines/cuda/cuda_check.h"
#include "engines/cuda/cuda_context.h"
#include "engines/cuda/device_math.cuh"
#include "engines/cuda/debug_skip.h"
#include "engines/cuda/fold_control.h"
#include "engines/cuda/gemv_fusion.h"
#include "engines/cuda/greedy_ids.h"
#include "engines/cuda/half_copy.h"
#include "engines/cuda/half_out_store.cuh"
#include "engines/cuda/launch_queue.h"
#include "engines/cuda/linear_int4_cuda.h"
#include "engines/cuda/pdl.cuh"

namespace qbench {

namespace cuda {
namespace {

unsigned blocks_for(int64_t n, int threads) { return unsigned((n + threads - 1) / threads); }

// Key words: one tag per call site, then the launch's values.
enum OpTag : uint64_t { kRmsnorm = 0x100, kAddBias, kRope, kKvStore, kSiluMul, kAdd, kUploadCopy };
uint64_t fbits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
// Host-to-device copies up to this size are staged and queued (graph-safe); larger ones run at once.
constexpr size_t kStagedUploadMax = 64 * 1024;

// y[r, :] = rmsnorm(x[r, :]) * w, one block per row. With `add`, the residual add before it is folded in:
// x[r, :] += add[r, :] first (written back: x is the residual stream). With h.p, y's 16-bit copy too (with
// h.only, instead of y).
struct RmsArgs {
  float* x;
  const float* add;  // may be null
  const float* w;
  float* y;
  HalfOut h;
  int64_t dim;
  float eps;
  bool w_first;  // vector kernel: load w with x (QBENCH_CUDA_NORM_W_FIRST=0: after the reduction, A/B runs)
};

__global__ void rmsnorm_kernel(RmsArgs a) {
  pdl_enter();
  float* xr = a.x + int64_t(blockIdx.x) * a.dim;
  const float* ar = a.add ? a.add + int64_t(blockIdx.x) * a.dim : nullptr;
  const int64_t y0 = int64_t(blockIdx.x) * a.dim;
  float ss = 0.f;
  for (int64_t i = threadIdx.x; i < a.dim; i += blockDim.x) {
    float v = xr[i];
    if (ar) xr[i] = v = v + ar[i];
    ss += v * v;
  }
  ss = block_sum(ss);
  const float inv = 1.0f / sqrtf(ss / float(a.dim) + a.eps);
  for (int64_t i = threadIdx.x; i < a.dim; i += blockDim.x) {  // each thread reads back what it wrote
    const float v = a.w[i] * (xr[i] * inv);
    if (!a.h.only) a.y[y0 + i] = v;
    if (a.h.p) store_half1(a.h, y0 + i, v);
  }
}

// Rows of dim % 4 == 0, dim <= 8 * blockDim: each thread keeps its (up to two)
// float4 in registers between the sum of squares and the scaling, so x is read once.
__global__ void rmsnorm_vec_kernel(RmsArgs a) {
  pdl_enter();
  float4* xr = reinterpret_cast<float4*>(a.x + int64_t(blockIdx.x) * a.dim);
  const float4* ar = a.add ? reinterpret_cast<const float4*>(a.add + int64_t(blockIdx.x) * a.dim) : nullptr;
  float4* yr = reinterpret_cast<float4*>(a.y + int64_t(blockIdx.x) * a.dim);
  const float4* w4 = reinterpret_cast<const float4*>(a.w);
  const int64_t n4 = a.dim / 4, y4 = int64_t(blockIdx.x) * n4;
  const int64_t i0 = threadIdx.x, i1 = threadIdx.x + blockDim.x;
  const float4 z = make_float4(0.f, 0.f, 0.f, 0.f);
  float4 u = i0 < n4 ? xr[i0] : z, v = i1 < n4 ? xr[i1] : z;
  // The weight's loads go out with x's (a.w_first), not after the block's reduction: one dependent round trip
  // fewer in a one-block kernel whose latency is the decode step's (~2 us of SM time per launch, ncu).
  float4 g0 = z, g1 = z;
  if (a.w_first) {
    if (i0 < n4) g0 = w4[i0];
    if (i1 < n4) g1 = w4[i1];
  }
  if (ar) {  // the residual add, as add_kernel does it
    if (i0 < n4) {
      const float4 c = ar[i0];
      u.x += c.x, u.y += c.y, u.z += c.z, u.w += c.w;
      xr[i0] = u;
    }
    if (i1 < n4) {
      const float4 c = ar[i1];
      v.x += c.x, v.y += c.y, v.z += c.z, v.w += c.w;
      xr[i1] = v;
    }
  }
  float ss = u.x * u.x + u.y * u.y + u.z * u.z + u.w * u.w + v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
  ss = block_sum(ss);
  const float inv = 1.0f / sqrtf(ss / float(a.dim) + a.eps);
  if (i0 < n4) {
    const float4 g = a.w_first ? g0 : w4[i0];
    const float4 o = make_float4(g.x * (u.x * inv), g.y * (u.y * inv), g.z * (u.z * inv), g.w * (u.w * inv));
    if (!a.h.only) yr[i0] = o;
    if (a.h.p) store_half4(a.h, y4 + i0, o);
  }
  if (i1 < n4) {
    const float4 g = a.w_first ? g1 : w4[i1];
    const float4 o = make_float4(g.x * (v.x * inv), g.y * (v.y * inv), g.z * (v.z * inv), g.w * (v.w * inv));
    if (!a.h.only) yr[i1] = o;
    if (a.h.p) store_half4(a.h, y4 + i1, o);
  }
}

// Elementwise kernels take 4 values per thread (16-byte accesses) where vec4_ok() holds for their pointers and
// shape (the host decides; it goes into the launch key), one value per thread otherwise. Prefill-sized
// launches are bandwidth-bound: per 7B 2048-token prefill on the H100 (ncu) SiLU·mul went 5.8 -> 3.8 ms,
// the residual adds 2.4 -> 1.9, the bias adds 2.0 -> 1.5.
bool vec4_ok(int64_t n, std::initializer_list<const void*> ptrs) {
  if (n % 4 != 0 || n / 4 >= int64_t(1) << 31) return false;
  for (const void* p : ptrs)
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
  return true;
}
unsigned vec_blocks(int64_t n, bool vec) { return blocks_for(vec ? n / 4 : n, 256); }

// y_s[r, :] += b_s for up to three arrays of the same rows (q/k/v's biases: one launch). Index i runs over
// the arrays' elements one after another (float4s when vec: every dim % 4 == 0).
constexpr int kMaxBias = 3;
struct BiasArgs {
  float* y[kMaxBias];
  const float* b[kMaxBias];
  int64_t dim[kMaxBias];  // in float4s when vec
  int64_t end[kMaxBias];  // cumulative elements (float4s when vec)
  int count;
  bool vec;
};

__global__ void add_bias_kernel(BiasArgs a) {
  pdl_enter();
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  // The array of element i, with constant indices only (a run-time index would put the arguments in local memory).
  float* y = a.y[0];
  const float* b = a.b[0];
  int64_t dim = a.dim[0], base = 0, total = a.end[0];
#pragma unroll
  for (int s = 1; s < kMaxBias; ++s)
    if (s < a.count) {
      total = a.end[s];
      if (i >= a.end[s - 1]) y = a.y[s], b = a.b[s], dim = a.dim[s], base = a.end[s - 1];
    }
  if (i >= total) return;
  i -= base;
  if (a.vec) {
    float4 v = reinterpret_cast<float4*>(y)[i];
    const float4 c = reinterpret_cast<const float4*>(b)[uint32_t(i) % uint32_t(dim)];
    v.x += c.x, v.y += c.y, v.z += c.z, v.w += c.w;
    reinterpret_cast<float4*>(y)[i] = v;
  } else {
    y[i] += b[i % dim];
  }
}

// One or two arrays x_a [rows, nh_a, head_dim] (q and k) in one launch; optionally the kv_store that
// follows rope(k) folded in (kv != 0): the rotated k and the v rows go straight into the paged cache.
struct RopeArgs {
  float* x[2];
  int64_t nh[2];
  int count;
  int kv;  // 0: no store; 1: F32 cache; 2: F16 cache
  void* kb;
  void* vb;
  const int32_t* table;  // staged block table
  const int32_t* pos0;   // staged: row r goes to position *pos0 + r (as kv_store_kernel)
  const int32_t* slots;  // or staged: row r goes to slot slots[r] (a batched pass; table and pos0 unused)
  const float* v;        // [rows, nh[1] * head_dim]
  int64_t block_tokens;
  // The q/k/v GEMM's epilogue, taken over (rope_takes_epilogue): q, k and v are read from the GEMM's output
  // ym [rows, ld] at columns off[s] plus bias[s] (as its epilogue pass would write them), and written to
  // x[0], x[1] (nh[1] heads; k rotated once count == 2, else as is) and vy (vnh heads). Null ym: x rotated in place.
  const float* ym;
  int64_t ld, off[3];
  const float* bias[3];
  float* vy;
  int64_t vnh;
};

// k's heads the launch covers: once k joined, or always with the epilogue (which writes k either way).
__host__ __device__ inline int64_t rope_k_heads(const RopeArgs& a) { return a.ym || a.count > 1 ? a.nh[1] : 0; }
// Heads the launch covers: q, k as above, v with the epilogue.
__host__ __device__ inline int64_t rope_heads(const RopeArgs& a) {
  return a.nh[0] + rope_k_heads(a) + (a.ym ? a.vnh : 0);
}

// Elements i and i + half of segment s, head h, row r of the GEMM output, as the epilogue pass computes them.
__device__ __forceinline__ float2 epilogue_pair(const RopeArgs& a, int s, int64_t r, int64_t h, int64_t hd, int64_t i,
                                                int64_t half) {
  const float* src = a.ym + r * a.ld + a.off[s] + h * hd;
  float p = 0.f + src[i], q = 0.f + src[i + half];
  if (a.bias[s]) {
    p += a.bias[s][h * hd + i];
    q += a.bias[s][h * hd + i + half];
  }
  return make_float2(p, q);
}

template <class T>
__device__ __forceinline__ void store_kv_pair(const RopeArgs& a, int64_t off, int64_t half, float k0, float k1, float v0,
                                              float v1) {
  T* kb = static_cast<T*>(a.kb);
  T* vb = static_cast<T*>(a.vb);
  kb[off] = from_f32<T>(k0);
  kb[off + half] = from_f32<T>(k1);
  vb[off] = from_f32<T>(v0);
  vb[off + half] = from_f32<T>(v1);
}

// One thread per (row, head, i < half) over q, k (and v): rotate_half over the whole head, as the CPU does.
__global__ void rope_kernel(RopeArgs a, int64_t rows, int64_t head_dim, const int32_t* __restrict__ pos,
                            const float* __restrict__ inv_freq) {
  pdl_enter();
  const int64_t half = head_dim / 2;
  const int64_t nk = rope_k_heads(a);
  const int64_t heads = rope_heads(a);
  const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= rows * heads * half) return;
  const int64_t i = t % half, rh = t / half, r = rh / heads, h = rh % heads;
  const int s = h < a.nh[0] ? 0 : h < a.nh[0] + nk ? 1 : 2;
  const int64_t hh = s == 0 ? h : s == 1 ? h - a.nh[0] : h - a.nh[0] - nk;
  const int64_t nhs = s == 0 ? a.nh[0] : s == 1 ? nk : a.vnh;
  float* v = (s == 0 ? a.x[0] : s == 1 ? a.x[1] : a.vy) + (r * nhs + hh) * head_dim;
  const float2 pq = a.ym ? epilogue_pair(a, s, r, hh, head_dim, i, half) : make_float2(v[i], v[i + half]);
  float r0 = pq.x, r1 = pq.y;
  if (s == 0 || (s == 1 && a.count > 1)) {
    const float ang = float(pos[r]) * inv_freq[i];
    const float c = cosf(ang), sn = sinf(ang);
    r0 = pq.x * c - pq.y * sn;
    r1 = pq.y * c + pq.x * sn;
  }
  v[i] = r0;
  v[i + half] = r1;
  if (s == 1 && a.kv) {  // the store joins only once k is rotated (count == 2)
    const int64_t row_elems = nk * head_dim, e = hh * head_dim + i;
    int64_t slot;
    if (a.slots) {
      slot = a.slots[r];
    } else {
      const int64_t pp = int64_t(*a.pos0) + r;
      slot = int64_t(a.table[pp / a.block_tokens]) * a.block_tokens + pp % a.block_tokens;
    }
    const int64_t off = slot * row_elems + e, vi = r * row_elems + e;
    // With the epilogue, v comes from the GEMM output: other threads of this launch are writing a.v.
    const float2 vv = a.ym ? epilogue_pair(a, 2, r, hh, head_dim, i, half) : make_float2(a.v[vi], a.v[vi + half]);
    if (a.kv == 1) store_kv_pair<float>(a, off, half, r0, r1, vv.x, vv.y);
    else store_kv_pair<__half>(a, off, half, r0, r1, vv.x, vv.y);
  }
}

unsigned long long g_epilogues_folded = 0;

const char kRopeTag = 0;
const char kAddTag = 0;   // a residual add an rmsnorm may join
const char kBiasTag = 0;  // a bias add the next bias add may join

// Row r of k/v goes to position pos0 + r: block table[p / bt], slot p % bt.
template <class T>
__global__ void kv_store_kernel(T* kbase, T* vbase, const int32_t* __restrict__ table, int64_t block_tokens,
                                int64_t row_elems, const int32_t* __restrict__ pos0, const float* __restrict__ k,
                                const float* __restrict__ v, int64_t rows) {
  pdl_enter();
  const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= rows * row_elems) return;
  const int64_t r = t / row_elems, e = t % row_elems, p = int64_t(*pos0) + r;
  const int64_t off = int64_t(table[p / block_tokens]) * block_tokens * row_elems + (p % block_tokens) * row_elems + e;
  kbase[off] = from_f32<T>(k[t]);
  vbase[off] = from_f32<T>(v[t]);
}

// out = silu(gate) * up; with h.p, out's 16-bit copy too (with h.only, instead of out).
__global__ void silu_mul_kernel(const float* gate, const float* up, float* out, int64_t n, bool vec, HalfOut h) {
  pdl_enter();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (vec) {
    if (i >= n / 4) return;
    const float4 g = reinterpret_cast<const float4*>(gate)[i], u = reinterpret_cast<const float4*>(up)[i];
    const float4 o = make_float4(silu_mul1(g.x, u.x), silu_mul1(g.y, u.y), silu_mul1(g.z, u.z), silu_mul1(g.w, u.w));
    if (!h.only) reinterpret_cast<float4*>(out)[i] = o;
    if (h.p) store_half4(h, i, o);
  } else if (i < n) {
    const float o = silu_mul1(gate[i], up[i]);
    if (!h.only) out[i] = o;
    if (h.p) store_half1(h, i, o);
  }
}

__global__ void add_kernel(float* y, const float* x, int64_t n, bool vec) {
  pdl_enter();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (vec) {
    if (i >= n / 4) return;
    float4 a = reinterpret_cast<float4*>(y)[i];
    const float4 b = reinterpret_cast<const float4*>(x)[i];
    a.x += b.x, a.y += b.y, a.z += b.z, a.w += b.w;
    reinterpret_cast<float4*>(y)[i] = a;
  } else if (i < n) {
    y[i] += x[i];
  }
}

class CudaOps final : public Ops {
 public:
  CudaOps() { ensure_device(); }
  ~CudaOps() override {
    for (auto& [key, p] : inv_freq_) device_free(p);
    device_free(argmax_);
  }

  void* alloc(size_t bytes) override { return device_alloc(bytes, "engine buffer"); }
  void release(void* p) override { device_free(p); }
  void upload(void* dst, const void* src, size_t bytes) override {
    if (!bytes) return;
    if (bytes <= kStagedUploadMax) {  // per-step positions: staged, so a decode graph replays the copy
      const void* staged = stage(src, bytes);
      enqueue({key(kUploadCopy, kw(dst), kw(staged), bytes), true, [=](cudaStream_t s) {
                 QB_CUDA(cudaMemcpyAsync(dst, staged, bytes, cudaMemcpyDeviceToDevice, s));
               }});
      return;
    }
    flush();
    QB_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream()));
  }
  void download(void* dst, const void* src, size_t bytes) override {
    flush();
    if (bytes) QB_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream()));
    sync("download");
  }
  bool host_memory() const override { return false; }
  void synchronize() override { sync("synchronize"); }

  void rmsnorm(const float* x, const float* w, float* y, int64_t rows, int64_t dim, float eps) override {
    if (rows <= 0) return;
    auto args = std::make_shared<RmsArgs>();
    static const bool w_first = !env_equals("QBENCH_CUDA_NORM_W_FIRST", "0");
    *args = {const_cast<float*>(x), nullptr, w, y, {}, dim, eps, w_first};
    // The residual add queued right before, over exactly x, joins this launch (the transformer's add then
    // rmsnorm at each half-layer): it rewrites that launch, which nothing has read yet. y is written while
    // other blocks update x and read the add's source: it must overlap neither, and w must not be in x.
    Launch* last = last_launch();
    const size_t xb = size_t(rows * dim) * sizeof(float);
    if (launch_folds_enabled() && last && last->merge_tag == &kAddTag && last->merge_state[0] == kw(x) &&
        last->merge_state[2] == uint64_t(rows * dim)) {
      const auto* src = reinterpret_cast<const float*>(uintptr_t(last->merge_state[1]));
      if (!ranges_overlap(y, xb, x, xb) && !ranges_overlap(y, xb, src, xb) && !ranges_overlap(src, xb, x, xb) &&
          !ranges_overlap(w, size_t(dim) * sizeof(float), x, xb))
        args->add = src;
    }
    // One block per row: at decode that is one block, so make it wide (latency, not bandwidth).
    const bool vec = dim % 4 == 0 && dim <= 8 * 1024 && reinterpret_cast<uintptr_t>(x) % 16 == 0 &&
                     reinterpret_cast<uintptr_t>(w) % 16 == 0 && reinterpret_cast<uintptr_t>(y) % 16 == 0 &&
                     reinterpret_cast<uintptr_t>(args->add) % 16 == 0;
    // Vector path: two float4 per thread; 32..1024 threads as the row needs.
    const int threads = vec ? int(std::clamp<int64_t>((dim / 4 + 1) / 2 + 31, 32, 1024) / 32 * 32) : 256;
    Launch l;
    l.key = key(kRmsnorm, kw(x), kw(args->add), kw(w), kw(y), rows, dim, fbits(eps), vec);
    l.run = [args, rows, threads, vec](cudaStream_t s) {
      if (debug_skip("norm")) return;
      if (vec) launch_pdl(rmsnorm_vec_kernel, unsigned(rows), threads, 0, s, *args);
      else launch_pdl(rmsnorm_kernel, unsigned(rows), threads, 0, s, *args);
      QB_CUDA_LAUNCH(args->add ? "residual add + rmsnorm" : "rmsnorm");
    };
    // A GEMM over y may have it write y's 16-bit copy (or a GEMV's activation form of y).
    offer_half_copy(l, y, rows * dim, &args->h, vec && dim % 16 == 0 ? kCapsVec4 : kCapsScalar);
    // Batch-1 decode: once only the int4 GEMVs' fragments of y are left to write, the GEMV before (which
    // wrote x) and those GEMVs may take the whole launch over.
    // The hook holds a plain pointer (stored inside the std::function, no allocation per step): it runs only
    // while the launch is queued, and l.run keeps args alive until cancel_launch, the hook's last act.
    if (rows == 1 && !args->add && norm_folds_enabled())
      l.on_release = [a = args.get()](size_t i) {
        if (a->h.type == HalfType::Int4Frag && a->h.only &&
            fold_rmsnorm_into_int4(i, a->x, a->w, a->dim, a->eps, a->h.p))
          cancel_launch(i);
      };
    if (args->add) *last = std::move(l);
    else enqueue(std::move(l));
  }

  void add_bias(float* y, const float* b, int64_t rows, int64_t dim) override {
    if (rows * dim <= 0) return;
    if (gemv_fold_bias(y, b, rows, dim)) return;  // into the GEMV that produced y
    const bool vec = dim % 4 == 0 && vec4_ok(rows * dim, {y, b});
    const int64_t len = vec ? rows * dim / 4 : rows * dim;
    // The bias add queued right before (q's, then k's) takes this one as another array: the arrays are
    // disjoint, and no array's bias lies in another's output.
    Launch* last = last_launch();
    if (launch_folds_enabled() && last && last->merge_tag == &kBiasTag && last->merge_state[0] == uint64_t(rows) &&
        last->merge_state[1] == uint64_t(vec)) {
      auto* a = reinterpret_cast<BiasArgs*>(uintptr_t(last->merge_state[2]));
      const size_t yb = size_t(rows * dim) * sizeof(float), bb = size_t(dim) * sizeof(float);
      bool ok = a->count < kMaxBias;
      for (int i = 0; ok && i < a->count; ++i) {
        const int64_t d = vec ? a->dim[i] * 4 : a->dim[i];
        const size_t yi = size_t(rows * d) * sizeof(float);
        ok = !ranges_overlap(y, yb, a->y[i], yi) && !ranges_overlap(y, yb, a->b[i], size_t(d) * sizeof(float)) &&
             !ranges_overlap(b, bb, a->y[i], yi);
      }
      if (ok) {
        const int c = a->count++;
        a->y[c] = y;
        a->b[c] = b;
        a->dim[c] = vec ? dim / 4 : dim;
        a->end[c] = a->end[c - 1] + len;
        last->key.insert(last->key.end(), {kw(y), kw(b), uint64_t(dim)});
        return;
      }
    }
    auto args = std::make_shared<BiasArgs>();
    args->y[0] = y;
    args->b[0] = b;
    args->dim[0] = vec ? dim / 4 : dim;
    args->end[0] = len;
    args->count = 1;
    args->vec = vec;
    Launch l;
    l.key = key(kAddBias, kw(y), kw(b), rows, dim, vec);
    l.merge_tag = &kBiasTag;
    l.merge_state = {uint64_t(rows), uint64_t(vec), kw(args.get())};
    l.run = [args](cudaStream_t s) {
      launch_pdl(add_bias_kernel, blocks_for(args->end[args->count - 1], 256), 256, 0, s, *args);
      QB_CUDA_LAUNCH("add_bias");
    };
    enqueue(std::move(l));
  }

  void rope(float* x, int64_t rows, int64_t n_heads, int64_t head_dim, const int32_t* pos, double theta) override {
    const int64_t n = rows * n_heads * (head_dim / 2);
    if (n <= 0) return;
    const float* inv = inv_freq(theta, head_dim);
    // rope(k) right after rope(q) at the same positions joins its launch.
    Launch* last = last_launch();
    if (last && last->merge_tag == &kRopeTag && last->merge_state[0] == uint64_t(rows) &&
        last->merge_state[1] == uint64_t(head_dim) && last->merge_state[2] == kw(pos) && last->merge_state[3] == kw(inv)) {
      auto* a = reinterpret_cast<RopeArgs*>(uintptr_t(last->merge_state[4]));
      const size_t b0 = size_t(rows * a->nh[0] * head_dim) * sizeof(float), b1 = size_t(n * 2) * sizeof(float);
      const auto *p0 = reinterpret_cast<const uint8_t*>(a->x[0]), *p1 = reinterpret_cast<const uint8_t*>(x);
      // With the epilogue taken, only the k it writes may join (else a launch of its own rotates k after).
      const bool k_ok = !a->ym || (x == a->x[1] && n_heads == a->nh[1]);
      if (a->count == 1 && k_ok && (p1 >= p0 + b0 || p0 >= p1 + b1)) {
        a->x[1] = x;
        a->nh[1] = n_heads;
        a->count = 2;
        last->key.insert(last->key.end(), {kw(x), uint64_t(n_heads)});
        return;
      }
    }
    auto args = std::make_shared<RopeArgs>();
    args->x[0] = x;
    args->nh[0] = n_heads;
    args->count = 1;
    Launch l;
    l.key = key(kRope, x, rows, n_heads, head_dim, pos, inv);
    rope_takes_epilogue(*args, l.key, x, rows, n_heads, head_dim);
    l.merge_tag = &kRopeTag;
    l.merge_state = {uint64_t(rows), uint64_t(head_dim), kw(pos), kw(inv), kw(args.get())};
    l.run = [args, rows, head_dim, pos, inv](cudaStream_t s) {
      const RopeArgs& a = *args;
      const int64_t total = rows * rope_heads(a) * (head_dim / 2);
      if (debug_skip("rope")) return;
      launch_pdl(rope_kernel, blocks_for(total, 256), 256, 0, s, a, rows, head_dim, pos, inv);
      QB_CUDA_LAUNCH("rope");
    };
    enqueue(std::move(l));
  }

  void kv_store(KvCache& kv, int64_t layer, int64_t pos0, const float* k, const float* v, int64_t rows) override {
    if (rows <= 0) return;
    if (pos0 + rows > kv.max_tokens()) throw Error("kv_store: positions beyond the KV cache");
    // Block table and pos0 are staged (read on the device), so the launch is the same every decode step.
    const int32_t* pos0_dev = stage_pos_and_table(kv, pos0);
    const int32_t* table = pos0_dev + 1;
    const int64_t n = rows * kv.row_elems();
    const int64_t bt = kv.pool().block_tokens(), re = kv.row_elems();
    const bool f32 = kv.type() == KvType::F32;
    void* kb = kv.pool().block_data(layer, 0, 0);
    void* vb = kv.pool().block_data(layer, 1, 0);
    if (fold_kv_store(kb, vb, table, bt, re, pos0_dev, k, v, rows, f32)) return;
    enqueue({key(kKvStore, kw(kb), kw(vb), kw(table), bt, re, kw(pos0_dev), kw(k), kw(v), rows, f32), true,
             [=](cudaStream_t s) {
               if (f32)
                 launch_pdl(kv_store_kernel<float>, blocks_for(n, 256), 256, 0, s, static_cast<float*>(kb),
                            static_cast<float*>(vb), table, bt, re, pos0_dev, k, v, rows);
               else
                 launch_pdl(kv_store_kernel<__half>, blocks_for(n, 256), 256, 0, s, static_cast<__half*>(kb),
                            static_cast<__half*>(vb), table, bt, re, pos0_dev, k, v, rows);
               QB_CUDA_LAUNCH("kv_store");
             }});
  }

  void attention(const KvCache& kv, int64_t layer, int64_t pos0, const float* q, float* out, int64_t rows,
                 int64_t n_heads) override {
    cuda::attention(kv, layer, pos0, q, out, rows, n_heads);
  }

  // One kv_store and one attention launch for all sequences (attention_cuda.h: several, or one decoding);
  // where those kernels do not apply (a lone prefill among them), one sequence at a time.
  void attention_batch(int64_t layer, const SeqRows* seqs, int64_t count, const float* k, const float* v,
                       const float* q, float* out, int64_t n_heads) override {
    auto fold = [this](const KvRowStore& st) {
      return launch_folds_enabled() && fold_kv_rows(st);
    };
    if (cuda::attention_batch(layer, seqs, count, k, v, q, out, n_heads, fold)) return;
    Ops::attention_batch(layer, seqs, count, k, v, q, out, n_heads);
  }

  // Greedy sampling on the device: only the token ids are downloaded.
  void argmax_rows(const float* x, int64_t rows, int64_t n, int32_t* host_out) override {
    if (rows <= 0) return;
    if (rows > argmax_cap_) {
      device_free(argmax_);  // runs what is queued first
      argmax_ = nullptr;
      argmax_ = static_cast<int32_t*>(device_alloc(size_t(rows) * sizeof(int32_t), "argmax output"));
      argmax_cap_ = rows;
    }
    enqueue_argmax_rows(x, rows, n, argmax_);
    download(host_out, argmax_, size_t(rows) * sizeof(int32_t));
  }

  // Pipelined greedy decode (engines/model/decode_greedy.cpp): the ids stay in `ids` for the next step's
  // embedding lookup, and a copy travels to the host behind the step (greedy_ids.h).
  bool pipelined_greedy() const override { return true; }
  uint64_t argmax_rows_device(const float* x, int64_t rows, int64_t n, int32_t* ids) override {
    enqueue_argmax_rows(x, rows, n, ids);
    return greedy_ids_.queue_copy(ids, rows);
  }
  void submit() override {
    flush();
    greedy_ids_.mark_submitted(stream());
  }
  void wait_ids(uint64_t ticket, int32_t* host_out, int64_t rows) override { greedy_ids_.wait(ticket, host_out, rows); }

  void silu_mul(const float* gate, const float* up, float* out, int64_t n) override {
    if (n <= 0) return;
    struct SiluArgs {
      const float *gate, *up;
      float* out;
      int64_t n;
      bool vec;
      HalfOut h;
    };
    const bool vec = vec4_ok(n, {gate, up, out});
    auto args = std::make_shared<SiluArgs>(SiluArgs{gate, up, out, n, vec, {}});
    Launch l;
    l.key = key(kSiluMul, kw(gate), kw(up), kw(out), n, vec);
    l.run = [args](cudaStream_t s) {
      if (debug_skip("silu")) return;
      const SiluArgs& a = *args;
      launch_pdl(silu_mul_kernel, vec_blocks(a.n, a.vec), 256, 0, s, a.gate, a.up, a.out, a.n, a.vec, a.h);
      QB_CUDA_LAUNCH("silu_mul");
    };
    // The down projection's GEMM may have it write out's 16-bit copy (or its GEMV, out's activation form).
    offer_half_copy(l, out, n, &args->h, vec && n % 16 == 0 ? kCapsVec4 : kCapsScalar);
    // Decode: once only the int4 fragments of out are left to write, the int4 gate/up GEMV before may take
    // the launch over (its blocks pair gate's and up's rows). As the RMSNorm's hook, it holds a plain pointer
    // (stored inside the std::function: no allocation per step), kept alive by l.run until cancel_launch.
    if (silu_folds_enabled())
      l.on_release = [a = args.get()](size_t i) {
        if (a->h.type == HalfType::Int4Frag && a->h.only &&
            fold_silu_into_int4(i, a->gate, a->up, a->n, a->h.p, a->h.halves, a->h.row))
          cancel_launch(i);
      };
    enqueue(std::move(l));
  }

  void release(const float* x, int64_t n) override { release_f32(x, n); }

  void add(float* y, const float* x, int64_t n) override {
    if (n <= 0) return;
    if (gemv_fold_residual(y, x, n)) return;  // the residual add into the GEMV that produced x
    const bool vec = vec4_ok(n, {y, x});
    Launch l;
    l.key = key(kAdd, kw(y), kw(x), n, vec);
    l.run = [=](cudaStream_t s) {
      launch_pdl(add_kernel, vec_blocks(n, vec), 256, 0, s, y, x, n, vec);
      QB_CUDA_LAUNCH("add");
    };
    l.merge_tag = &kAddTag;  // an rmsnorm over y may take this add into its launch
    l.merge_state = {kw(y), kw(x), uint64_t(n)};
    enqueue(std::move(l));
  }

 private:
  // rope(q) right after the cuBLAS launch of a merged q/k/v GEMM (linear_dense_cuda.cu: GEMM into scratch ym,
  // then an epilogue pass adding the biases and writing q, k and v): the RoPE launch does that pass's work
  // instead, reading ym, and the GEMM launch skips it. Same values (the epilogue's float adds, then the
  // rotation), one kernel fewer per layer at batched decode.
  void rope_takes_epilogue(RopeArgs& a, std::vector<uint64_t>& rope_key, const float* q, int64_t rows,
                           int64_t n_heads, int64_t head_dim) {
    static const bool on = !env_equals("QBENCH_CUDA_ROPE_EPILOGUE", "0");  // A/B measurements
    Launch* last = last_launch();
    if (!on || !launch_folds_enabled() || !last || last->merge_tag != &kGemvTag || last->merge_state.size() != 5)
      return;
    auto* g = reinterpret_cast<GemvArgs*>(uintptr_t(last->merge_state[4]));
    if (!g->ym || g->epilogue_taken || g->nseg != 3 || g->n != rows || g->y[0] != q) return;
    const int64_t sq = seg_rows(*g, 0), sk = seg_rows(*g, 1), sv = seg_rows(*g, 2);
    if (sq != n_heads * head_dim || sk % head_dim || sv % head_dim) return;
    for (int s = 0; s < 3; ++s)
      if (g->resid[s]) return;
    a.ym = g->ym;
    a.ld = g->end[2];
    a.off[0] = 0, a.off[1] = g->end[0], a.off[2] = g->end[1];
    for (int s = 0; s < 3; ++s) a.bias[s] = g->bias[s];
    a.x[1] = g->y[1];
    a.vy = g->y[2];
    a.nh[1] = sk / head_dim;
    a.vnh = sv / head_dim;
    g->epilogue_taken = true;
    last->key.push_back(0xE91);
    rope_key.insert(rope_key.end(), {0xE92, kw(a.ym), uint64_t(a.ld), kw(a.bias[0]), kw(a.bias[1]), kw(a.bias[2]),
                                     kw(a.x[1]), kw(a.vy), uint64_t(a.nh[1]), uint64_t(a.vnh)});
    ++g_epilogues_folded;
  }

  // The rope launch over q then k right before a K/V store of the same rows, when that store can join it:
  // the rope kernel writes the rotated k (the value the store would read back) and v into the cache. Same
  // values, one launch fewer. v is read while other threads rotate q and k in place: it must be neither.
  RopeArgs* rope_to_store_into(const float* k, const float* v, int64_t rows, int64_t row_elems, Launch** out) {
    Launch* last = last_launch();
    if (!last || last->merge_tag != &kRopeTag || last->merge_state[0] != uint64_t(rows)) return nullptr;
    auto* a = reinterpret_cast<RopeArgs*>(uintptr_t(last->merge_state[4]));
    const int64_t head_dim = int64_t(last->merge_state[1]);
    if (a->count != 2 || a->kv || a->x[1] != k || a->nh[1] * head_dim != row_elems || head_dim % 2) return nullptr;
    if (a->ym && (a->vy != v || a->vnh != a->nh[1])) return nullptr;  // with the epilogue: v from its output
    const size_t vb_bytes = size_t(rows * row_elems) * sizeof(float);
    if (ranges_overlap(v, vb_bytes, a->x[0], size_t(rows * a->nh[0] * head_dim) * sizeof(float)) ||
        ranges_overlap(v, vb_bytes, a->x[1], vb_bytes))
      return nullptr;
    *out = last;
    return a;
  }

  // One sequence's kv_store (positions pos0.. through its block table).
  bool fold_kv_store(void* kb, void* vb, const int32_t* table, int64_t bt, int64_t re, const int32_t* pos0_dev,
                     const float* k, const float* v, int64_t rows, bool f32) {
    Launch* last = nullptr;
    RopeArgs* a = rope_to_store_into(k, v, rows, re, &last);
    if (!a) return false;
    set_store(a, kb, vb, v, f32);
    a->table = table;
    a->pos0 = pos0_dev;
    a->block_tokens = bt;
    last->key.insert(last->key.end(), {kKvStore, kw(kb), kw(vb), kw(table), uint64_t(bt), kw(pos0_dev), kw(v), f32});
    last->merge_tag = nullptr;  // complete: nothing more joins it
    return true;
  }

  // A batched pass's K/V store (attention_batch): a slot per row.
  bool fold_kv_rows(const KvRowStore& st) {
    Launch* last = nullptr;
    RopeArgs* a = rope_to_store_into(st.k, st.v, st.rows, st.row_elems, &last);
    if (!a) return false;
    set_store(a, st.kb, st.vb, st.v, st.f32);
    a->slots = st.slots;
    last->key.insert(last->key.end(), {0x211, kw(st.kb), kw(st.vb), kw(st.slots), kw(st.v), st.f32});
    last->merge_tag = nullptr;
    return true;
  }
  static void set_store(RopeArgs* a, void* kb, void* vb, const float* v, bool f32) {
    a->kv = f32 ? 1 : 2;
    a->kb = kb;
    a->vb = vb;
    a->v = v;
  }

  // inv_freq = 1 / theta^(2i/d) computed on the host exactly as the CPU does, uploaded once per (theta, d).
  const float* inv_freq(double theta, int64_t head_dim) {
    auto key = std::make_pair(theta, head_dim);
    auto it = inv_freq_.find(key);
    if (it != inv_freq_.end()) return it->second;
    const int64_t half = head_dim / 2;
    std::vector<float> inv(static_cast<size_t>(half));
    for (int64_t i = 0; i < half; ++i) inv[size_t(i)] = 1.0f / std::pow(float(theta), float(2 * i) / float(head_dim));
    auto* d = static_cast<float*>(device_alloc(inv.size() * sizeof(float), "RoPE table"));
    upload_sync(d, inv.data(), inv.size() * sizeof(float), "RoPE table upload");
    inv_freq_[key] = d;
    return d;
  }
  std::map<std::pair<double, int64_t>, float*> inv_freq_;
  int32_t* argmax_ = nullptr;
  int64_t argmax_cap_ = 0;
  GreedyIds greedy_ids_;
};

}  // namespace

unsigned long long gemm_epilogues_folded() { return g_epilogues_folded; }

}  // namespace cuda

std::unique_ptr<Ops> make_cuda_ops() { return std::make_unique<cuda::CudaOps>(); }

}  // namespace qbench
