#pragma once
// Hopper (sm_90+) bulk copies global -> shared memory (the TMA's one-dimensional form, cp.async.bulk) and the
// shared-memory barriers (mbarrier) that count their bytes: one thread requests kilobytes with one instruction
// and the copy engine, not the warps' registers, keeps them in flight. Used by the streamed int4 GEMV
// (int4_stream_gemv_cuda.cu). Compiles to nothing below sm_90; callers check the device first.
// Include from CUDA sources only.
#include <cstdint>

#include "engines/cuda/mma.cuh"

namespace qbench::cuda {

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define QBENCH_BULK_COPY 1
#endif

// A barrier expecting `count` arrivals per phase (plus the bytes announced with mbar_expect_bytes).
__device__ __forceinline__ void mbar_init(uint64_t* bar, unsigned count) {
#ifdef QBENCH_BULK_COPY
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_addr(bar)), "r"(count) : "memory");
#endif
}
// Makes initialised barriers visible to the copy engine (before the block's first __syncthreads).
__device__ __forceinline__ void mbar_init_fence() {
#ifdef QBENCH_BULK_COPY
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
#endif
}
// One arrival that also announces `bytes` the copies completing on this barrier will bring.
__device__ __forceinline__ void mbar_arrive_expect_bytes(uint64_t* bar, unsigned bytes) {
#ifdef QBENCH_BULK_COPY
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_addr(bar)), "r"(bytes)
               : "memory");
#endif
}
__device__ __forceinline__ void mbar_arrive(uint64_t* bar) {
#ifdef QBENCH_BULK_COPY
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_addr(bar)) : "memory");
#endif
}
// Waits until the phase with this parity (0, 1, 0, ... from the initialisation) has completed.
__device__ __forceinline__ void mbar_wait(uint64_t* bar, unsigned parity) {
#ifdef QBENCH_BULK_COPY
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n selp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(smem_addr(bar)), "r"(parity)
        : "memory");
  } while (!done);
#endif
}
// An L2 policy that lets streamed-once data go first (weights read once per step).
__device__ __forceinline__ uint64_t l2_evict_first_policy() {
  uint64_t p = 0;
#ifdef QBENCH_BULK_COPY
  asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;\n" : "=l"(p));
#endif
  return p;
}
// bytes (a multiple of 16; both addresses 16-byte aligned) from global src to shared dst; completes on bar.
__device__ __forceinline__ void bulk_load(void* dst, const void* src, unsigned bytes, uint64_t* bar, uint64_t policy) {
#ifdef QBENCH_BULK_COPY
  asm volatile(
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes.L2::cache_hint [%0], [%1], %2, [%3], %4;\n" ::"r"(
          smem_addr(dst)),
      "l"(src), "r"(bytes), "r"(smem_addr(bar)), "l"(policy)
      : "memory");
#endif
}

}  // namespace qbench::cuda
