#include "engines/cuda/linear_dense_cuda.h"

#include <memory>
#include <vector>

#include "engines/core/error.h"
#include "engines/cuda/cuda_check.h"
#include "engines/cuda/cuda_context.h"
#include "engines/cuda/device_math.cuh"
#include "engines/cuda/gemv_args.h"
#include "engines/cuda/gemv_fusion.h"
#include "engines/cuda/launch_queue.h"

namespace qbench {

namespace cuda {
namespace {

// Up to this many tokens the GEMV (weights read once, FP32 activations) runs;
// beyond it the tensor-core GEMM is faster.
constexpr int kMaxGemvTokens = 8;
constexpr int kGemvWarps = 4;   // output rows per 128-thread block: small blocks spread evenly over the SMs
// 16-byte weight loads each lane has in flight before it uses them: 8 at batch 1
// (a 3584-wide row is two round trips), 4 for up to 8 tokens (registers).
template <int NT>
constexpr int kUnroll = 4;

// Eight consecutive weights as floats from one 16-byte streaming load (two for F32).
// The weights are read once per token and never fit in L2: load them evict-first.
struct W8 {
  uint4 u[sizeof(float) / 2];  // F32 needs two
};
template <class T>
__device__ __forceinline__ void ld8(const T* p, W8& w) {
  const uint4* q = reinterpret_cast<const uint4*>(p);
  w.u[0] = __ldcs(q);
  if constexpr (sizeof(T) == 4) w.u[1] = __ldcs(q + 1);
}
__device__ __forceinline__ void cvt8(const W8& w, const __half*, float* f) {
  const __half2* h = reinterpret_cast<const __half2*>(&w.u[0]);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 v = __half22float2(h[i]);
    f[2 * i] = v.x;
    f[2 * i + 1] = v.y;
  }
}
__device__ __forceinline__ void cvt8(const W8& w, const __nv_bfloat16*, float* f) {
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&w.u[0]);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 v = __bfloat1622float2(h[i]);
    f[2 * i] = v.x;
    f[2 * i + 1] = v.y;
  }
}
__device__ __forceinline__ void cvt8(const W8& w, const float*, float* f) {
  const float* a = reinterpret_cast<const float*>(&w.u[0]);
#pragma unroll
  for (int i = 0; i < 8; ++i) f[i] = a[i];
}

bool overlaps(const void* p, size_t pb, const void* q, size_t qb) {
  const auto *a0 = static_cast<const uint8_t*>(p), *b0 = static_cast<const uint8_t*>(q);
  return a0 < b0 + qb && b0 < a0 + pb;
}

template <class T, int NT>
__device__ __forceinline__ void fma8(const float* w, const float* __restrict__ x, int64_t in, int64_t k, int n, float* acc) {
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    if (t < n) {
      const float4 a = __ldg(reinterpret_cast<const float4*>(x + t * in + k));
      const float4 b = __ldg(reinterpret_cast<const float4*>(x + t * in + k + 4));
      acc[t] += w[0] * a.x + w[1] * a.y + w[2] * a.z + w[3] * a.w + w[4] * b.x + w[5] * b.y + w[6] * b.z + w[7] * b.w;
    }
  }
}

// y_s[t, row] = x[t, :] · W_s[row, :] for t < n (n <= NT), one warp per output row.
// VEC: in % 8 == 0, so rows are 16-byte aligned and read 16 bytes per lane.
template <class T, int NT, bool VEC>
__global__ void __launch_bounds__(kGemvWarps * 32) gemv_kernel(GemvArgs a, const float* __restrict__ x) {
  const int lane = threadIdx.x & 31;
  int64_t row = int64_t(blockIdx.x) * kGemvWarps + (threadIdx.x >> 5);
  int64_t total = a.end[0];
#pragma unroll
  for (int i = 1; i < kMaxSegments; ++i)
    if (i < a.nseg) total = a.end[i];
  if (row >= total) return;
  // Find the segment with constant indices only (a run-time index would copy the arguments to local memory).
  const void* W = a.W[0];
  float* y = a.y[0];
  const float* bias = a.bias[0];
  float* resid = a.resid[0];
  int64_t base = 0, rows_s = a.end[0];
#pragma unroll
  for (int i = 1; i < kMaxSegments; ++i)
    if (i < a.nseg && row >= a.end[i - 1]) {
      W = a.W[i];
      y = a.y[i];
      bias = a.bias[i];
      resid = a.resid[i];
      base = a.end[i - 1];
      rows_s = a.end[i] - a.end[i - 1];
    }
  row -= base;
  const int64_t in = a.in;
  const int n = a.n;
  const T* wr = static_cast<const T*>(W) + row * in;
  float acc[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = 0.f;
  if constexpr (VEC) {
    // kUnroll loads issued before any is used; the last batch is predicated
    // rather than a one-load-at-a-time tail, so it is one round trip too.
    constexpr int U = kUnroll<NT>;
    for (int64_t k = int64_t(lane) * 8; k < in; k += U * 256) {
      W8 w[U];
#pragma unroll
      for (int u = 0; u < U; ++u)
        if (k + u * 256 < in) ld8(wr + k + u * 256, w[u]);
#pragma unroll
      for (int u = 0; u < U; ++u) {
        if (k + u * 256 < in) {
          float f[8];
          cvt8(w[u], wr, f);
          fma8<T, NT>(f, x, in, k + u * 256, n, acc);
        }
      }
    }
  } else {
    for (int64_t k = lane; k < in; k += 32) {
      const float w = to_f32(wr[k]);
#pragma unroll
      for (int t = 0; t < NT; ++t)
        if (t < n) acc[t] += w * x[t * in + k];
    }
  }
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    if (t < n) {
      float v = warp_sum(acc[t]);
      if (lane == 0) {
        const int64_t i = int64_t(t) * rows_s + row;
        if (bias) v += bias[row];
        y[i] = v;
        if (resid) resid[i] += v;
      }
    }
  }
}

template <class T>
__global__ void to_type_kernel(const float* __restrict__ x, T* __restrict__ y, int64_t n) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) {
    if constexpr (std::is_same_v<T, __half>) y[i] = __float2half_rn(x[i]);
    else y[i] = __float2bfloat16_rn(x[i]);
  }
}

template <class T>
__global__ void gather_kernel(const T* __restrict__ W, const int32_t* __restrict__ ids, float* __restrict__ out, int64_t in,
                              int64_t n) {
  const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= n * in) return;
  const int64_t r = t / in, c = t % in;
  out[t] = to_f32(W[int64_t(ids[r]) * in + c]);
}

template <class T>
struct Types;
template <>
struct Types<__half> {
  static constexpr cudaDataType_t cuda = CUDA_R_16F;
  static constexpr const char* kind = "f16";
};
template <>
struct Types<__nv_bfloat16> {
  static constexpr cudaDataType_t cuda = CUDA_R_16BF;
  static constexpr const char* kind = "bf16";
};
template <>
struct Types<float> {
  static constexpr cudaDataType_t cuda = CUDA_R_32F;
  static constexpr const char* kind = "f32";
};

template <class T>
class DenseLinearCuda final : public Linear {
 public:
  DenseLinearCuda(const void* host, int64_t in, int64_t out) : Linear(in, out) {
    if (in <= 0 || out <= 0) throw Error("dense CUDA Linear needs a positive shape");
    bytes_ = uint64_t(in) * uint64_t(out) * sizeof(T);
    w_ = static_cast<T*>(device_alloc(bytes_, "weights [" + std::to_string(out) + " x " + std::to_string(in) + "]"));
    QB_CUDA(cudaMemcpy(w_, host, bytes_, cudaMemcpyHostToDevice));
  }
  ~DenseLinearCuda() override { device_free(w_); }

  void forward(const float* x, float* y, int64_t n) const override {
    if (n <= 0) return;
    if (n <= kMaxGemvTokens) {
      gemv(x, y, n);
      return;
    }
    // cuBLAS is column-major: Y^T[out, n] = W[out, in] · X^T[in, n], i.e. op(A) = T on W stored [in, out] column-major.
    const void* xb = x;
    if constexpr (!std::is_same_v<T, float>) {
      T* xh = static_cast<T*>(scratch(Scratch::HalfActivations, size_t(n * in_) * sizeof(T)));
      const int64_t cnt = n * in_;
      enqueue({key(0x300, x, xh, cnt, sizeof(T)), true, [=](cudaStream_t s) {
                 to_type_kernel<T><<<unsigned((cnt + 255) / 256), 256, 0, s>>>(x, xh, cnt);
                 QB_CUDA_LAUNCH("activation conversion");
               }});
      xb = xh;
    }
    const T* w = w_;
    const int64_t in = in_, out = out_;
    // cuBLAS launches run directly, never inside a graph.
    enqueue({key(0x301, w, xb, y, n, in, out), false, [=](cudaStream_t) {
               const float alpha = 1.f, beta = 0.f;
               QB_CUBLAS(cublasGemmEx(cublas(), CUBLAS_OP_T, CUBLAS_OP_N, int(out), int(n), int(in), &alpha, w,
                                      Types<T>::cuda, int(in), xb, Types<T>::cuda, int(in), &beta, y, CUDA_R_32F, int(out),
                                      CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
             }});
  }

  void gather_rows(const int32_t* ids, int64_t n, float* out) const override {
    if (n <= 0) return;
    for (int64_t i = 0; i < n; ++i)
      if (ids[i] < 0 || ids[i] >= out_) throw Error("row " + std::to_string(ids[i]) + " out of range");
    // Token ids are staged (read on the device): a decode step's launch is the same whatever the token.
    const auto* d = static_cast<const int32_t*>(stage(ids, size_t(n) * sizeof(int32_t)));
    const T* w = w_;
    const int64_t in = in_;
    enqueue({key(0x302, w, d, out, in, n, sizeof(T)), true, [=](cudaStream_t s) {
               gather_kernel<T><<<unsigned((n * in + 255) / 256), 256, 0, s>>>(w, d, out, in, n);
               QB_CUDA_LAUNCH("gather_rows");
             }});
  }

  uint64_t weight_bytes() const override { return bytes_; }
  std::string kind() const override { return Types<T>::kind; }

 private:
  // Queues y = x·Wᵀ. When the last queued launch is a GEMV of the same type over
  // the same x and n (nothing ran in between), this matrix joins it as one more
  // segment: q/k/v and gate/up become one launch each, with no change to the transformer.
  void gemv(const float* x, float* y, int64_t n) const {
    const bool vec = in_ % 8 == 0;
    const uint64_t tag = 0x400 + (vec ? 1 : 0) + 2 * sizeof(T);
    Launch* last = last_launch();
    if (last && last->merge_tag == &kGemvTag && merge_with(*last, tag, x, y, n)) return;

    auto args = std::make_shared<GemvArgs>();  // zeroed: no bias, no residual
    args->W[0] = w_;
    args->y[0] = y;
    args->end[0] = out_;
    args->nseg = 1;
    args->in = in_;
    args->n = int(n);
    Launch l;
    l.key = key(tag, x, n, in_, w_, y, out_);
    l.merge_tag = &kGemvTag;
    l.merge_state = {tag, kw(x), uint64_t(n), uint64_t(in_), kw(args.get())};
    l.run = [args, x, vec](cudaStream_t s) {
      const GemvArgs& a = *args;
      const unsigned blocks = unsigned((a.end[a.nseg - 1] + kGemvWarps - 1) / kGemvWarps);
      if (a.n == 1) {
        if (vec) gemv_kernel<T, 1, true><<<blocks, kGemvWarps * 32, 0, s>>>(a, x);
        else gemv_kernel<T, 1, false><<<blocks, kGemvWarps * 32, 0, s>>>(a, x);
      } else {
        if (vec) gemv_kernel<T, kMaxGemvTokens, true><<<blocks, kGemvWarps * 32, 0, s>>>(a, x);
        else gemv_kernel<T, kMaxGemvTokens, false><<<blocks, kGemvWarps * 32, 0, s>>>(a, x);
      }
      QB_CUDA_LAUNCH("gemv");
    };
    enqueue(std::move(l));
  }

  // Adds this matrix to a queued GEMV launch when that is safe; false otherwise.
  bool merge_with(Launch& l, uint64_t tag, const float* x, float* y, int64_t n) const {
    const auto& st = l.merge_state;
    if (st.size() != 5 || st[0] != tag || st[1] != kw(x) || st[2] != uint64_t(n) || st[3] != uint64_t(in_)) return false;
    auto* a = reinterpret_cast<GemvArgs*>(uintptr_t(st[4]));
    if (a->nseg >= kMaxSegments) return false;
    for (int s = 0; s < a->nseg; ++s)
      if (a->resid[s]) return false;  // a folded residual add may write memory this GEMV reads
    // Outputs must not overlap earlier segments' outputs or x (a merged launch has no order between them).
    const size_t yb = size_t(n * out_) * sizeof(float);
    if (overlaps(y, yb, x, size_t(n * in_) * sizeof(float))) return false;
    for (int s = 0; s < a->nseg; ++s) {
      const int64_t rows = a->end[s] - (s ? a->end[s - 1] : 0);
      if (overlaps(y, yb, a->y[s], size_t(n * rows) * sizeof(float))) return false;
    }
    a->W[a->nseg] = w_;
    a->y[a->nseg] = y;
    a->end[a->nseg] = a->end[a->nseg - 1] + out_;
    ++a->nseg;
    l.key.insert(l.key.end(), {kw(w_), kw(y), uint64_t(out_)});
    return true;
  }
  T* w_ = nullptr;
  uint64_t bytes_ = 0;
};

}  // namespace

namespace {
// The last queued launch's GEMV arguments, or nullptr when it is no GEMV.
GemvArgs* last_gemv(Launch** l, int64_t* n, int64_t* in, const float** x) {
  Launch* last = last_launch();
  if (!last || last->merge_tag != &kGemvTag || last->merge_state.size() != 5) return nullptr;
  *l = last;
  *x = reinterpret_cast<const float*>(uintptr_t(last->merge_state[1]));
  *n = int64_t(last->merge_state[2]);
  *in = int64_t(last->merge_state[3]);
  return reinterpret_cast<GemvArgs*>(uintptr_t(last->merge_state[4]));
}
int64_t seg_rows(const GemvArgs& a, int s) { return a.end[s] - (s ? a.end[s - 1] : 0); }
}  // namespace

bool gemv_fold_bias(float* y, const float* b, int64_t rows, int64_t dim) {
  Launch* l;
  int64_t n, in;
  const float* x;
  GemvArgs* a = last_gemv(&l, &n, &in, &x);
  if (!a || n != rows) return false;
  for (int s = 0; s < a->nseg; ++s) {
    if (a->y[s] != y || seg_rows(*a, s) != dim) continue;
    if (a->bias[s] || a->resid[s]) return false;  // order matters once a residual took y
    a->bias[s] = b;
    l->key.insert(l->key.end(), {0xB1A5, uint64_t(s), kw(b)});
    return true;
  }
  return false;
}

bool gemv_fold_residual(float* y, const float* src, int64_t count) {
  Launch* l;
  int64_t n, in;
  const float* x;
  GemvArgs* a = last_gemv(&l, &n, &in, &x);
  if (!a) return false;
  for (int s = 0; s < a->nseg; ++s) {
    if (a->y[s] != src || n * seg_rows(*a, s) != count || a->resid[s]) continue;
    // y is written while other warps still read x, the outputs and the biases: it must be none of them.
    const size_t yb = size_t(count) * sizeof(float);
    if (overlaps(y, yb, x, size_t(n * in) * sizeof(float))) return false;
    for (int t = 0; t < a->nseg; ++t) {
      const size_t rb = size_t(seg_rows(*a, t)) * sizeof(float);
      if (overlaps(y, yb, a->y[t], size_t(n) * rb) || (a->bias[t] && overlaps(y, yb, a->bias[t], rb)) ||
          (a->resid[t] && overlaps(y, yb, a->resid[t], size_t(n) * rb)))
        return false;
    }
    a->resid[s] = y;
    l->key.insert(l->key.end(), {0x4E51D, uint64_t(s), kw(y)});
    return true;
  }
  return false;
}

}  // namespace cuda

std::unique_ptr<Linear> make_dense_linear_cuda(DType dtype, const void* host, int64_t in, int64_t out) {
  switch (dtype) {
    case DType::F16: return std::make_unique<cuda::DenseLinearCuda<__half>>(host, in, out);
    case DType::BF16: return std::make_unique<cuda::DenseLinearCuda<__nv_bfloat16>>(host, in, out);
    case DType::F32: return std::make_unique<cuda::DenseLinearCuda<float>>(host, in, out);
    default: throw Error(std::string("dense CUDA Linear does not support dtype ") + dtype_name(dtype));
  }
}

}  // namespace qbench
