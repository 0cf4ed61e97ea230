#include "engines/cuda/linear_dense_cuda.h"

#include <vector>

#include "engines/core/error.h"
#include "engines/cuda/cuda_check.h"
#include "engines/cuda/cuda_context.h"
#include "engines/cuda/device_math.cuh"

namespace qbench {

namespace cuda {
namespace {

// Up to this many tokens the GEMV (weights read once, FP32 activations) runs;
// beyond it the tensor-core GEMM is faster.
constexpr int kMaxGemvTokens = 8;
constexpr int kGemvWarps = 8;  // output rows per 256-thread block

// Eight consecutive weights as floats from one 16-byte load (two for F32).
__device__ __forceinline__ void load8(const __half* p, float* f) {
  const uint4 u = *reinterpret_cast<const uint4*>(p);
  const __half2* h = reinterpret_cast<const __half2*>(&u);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 v = __half22float2(h[i]);
    f[2 * i] = v.x;
    f[2 * i + 1] = v.y;
  }
}
__device__ __forceinline__ void load8(const __nv_bfloat16* p, float* f) {
  const uint4 u = *reinterpret_cast<const uint4*>(p);
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&u);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 v = __bfloat1622float2(h[i]);
    f[2 * i] = v.x;
    f[2 * i + 1] = v.y;
  }
}
__device__ __forceinline__ void load8(const float* p, float* f) {
  const float4 a = *reinterpret_cast<const float4*>(p), b = *reinterpret_cast<const float4*>(p + 4);
  f[0] = a.x; f[1] = a.y; f[2] = a.z; f[3] = a.w; f[4] = b.x; f[5] = b.y; f[6] = b.z; f[7] = b.w;
}

// y[t, row] = x[t, :] · W[row, :] for t < n (n <= NT). VEC: in % 8 == 0 so rows are 16-byte aligned.
template <class T, int NT, bool VEC>
__global__ void __launch_bounds__(kGemvWarps * 32) gemv_kernel(const T* __restrict__ W, const float* __restrict__ x,
                                                              float* __restrict__ y, int64_t in, int64_t out, int n) {
  const int lane = threadIdx.x & 31;
  const int64_t row = int64_t(blockIdx.x) * kGemvWarps + (threadIdx.x >> 5);
  if (row >= out) return;
  const T* wr = W + row * in;
  float acc[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = 0.f;
  if constexpr (VEC) {
#pragma unroll 4
    for (int64_t k = int64_t(lane) * 8; k < in; k += 256) {
      float w[8];
      load8(wr + k, w);
#pragma unroll
      for (int t = 0; t < NT; ++t) {
        if (t < n) {
          const float4 a = *reinterpret_cast<const float4*>(x + t * in + k);
          const float4 b = *reinterpret_cast<const float4*>(x + t * in + k + 4);
          acc[t] += w[0] * a.x + w[1] * a.y + w[2] * a.z + w[3] * a.w + w[4] * b.x + w[5] * b.y + w[6] * b.z + w[7] * b.w;
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
      const float s = warp_sum(acc[t]);
      if (lane == 0) y[int64_t(t) * out + row] = s;
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
    const float alpha = 1.f, beta = 0.f;
    const void* xb = x;
    if constexpr (!std::is_same_v<T, float>) {
      T* xh = static_cast<T*>(scratch(Scratch::HalfActivations, size_t(n * in_) * sizeof(T)));
      to_type_kernel<T><<<unsigned((n * in_ + 255) / 256), 256, 0, stream()>>>(x, xh, n * in_);
      QB_CUDA_LAUNCH("activation conversion");
      xb = xh;
    }
    QB_CUBLAS(cublasGemmEx(cublas(), CUBLAS_OP_T, CUBLAS_OP_N, int(out_), int(n), int(in_), &alpha, w_, Types<T>::cuda,
                           int(in_), xb, Types<T>::cuda, int(in_), &beta, y, CUDA_R_32F, int(out_), CUBLAS_COMPUTE_32F,
                           CUBLAS_GEMM_DEFAULT));
  }

  void gather_rows(const int32_t* ids, int64_t n, float* out) const override {
    if (n <= 0) return;
    for (int64_t i = 0; i < n; ++i)
      if (ids[i] < 0 || ids[i] >= out_) throw Error("row " + std::to_string(ids[i]) + " out of range");
    auto* d = static_cast<int32_t*>(scratch(Scratch::TokenIds, size_t(n) * sizeof(int32_t)));
    QB_CUDA(cudaMemcpyAsync(d, ids, size_t(n) * sizeof(int32_t), cudaMemcpyHostToDevice, stream()));
    gather_kernel<T><<<unsigned((n * in_ + 255) / 256), 256, 0, stream()>>>(w_, d, out, in_, n);
    QB_CUDA_LAUNCH("gather_rows");
  }

  uint64_t weight_bytes() const override { return bytes_; }
  std::string kind() const override { return Types<T>::kind; }

 private:
  void gemv(const float* x, float* y, int64_t n) const {
    const unsigned blocks = unsigned((out_ + kGemvWarps - 1) / kGemvWarps);
    const bool vec = in_ % 8 == 0;
    if (n == 1) {
      if (vec) gemv_kernel<T, 1, true><<<blocks, kGemvWarps * 32, 0, stream()>>>(w_, x, y, in_, out_, 1);
      else gemv_kernel<T, 1, false><<<blocks, kGemvWarps * 32, 0, stream()>>>(w_, x, y, in_, out_, 1);
    } else {
      if (vec) gemv_kernel<T, kMaxGemvTokens, true><<<blocks, kGemvWarps * 32, 0, stream()>>>(w_, x, y, in_, out_, int(n));
      else gemv_kernel<T, kMaxGemvTokens, false><<<blocks, kGemvWarps * 32, 0, stream()>>>(w_, x, y, in_, out_, int(n));
    }
    QB_CUDA_LAUNCH("gemv");
  }

  T* w_ = nullptr;
  uint64_t bytes_ = 0;
};

}  // namespace
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
