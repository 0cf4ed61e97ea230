#pragma once
// Programmatic dependent launch (PDL, sm_90+): a kernel launched with
// launch_pdl may be scheduled while the kernel before it on the stream is
// still finishing, so its launch latency and block setup overlap that tail
// instead of following it (in a CUDA graph the capture keeps this as a
// programmatic edge). Correctness rests on one rule: a kernel launched with
// launch_pdl starts with pdl_enter() (or its wait half, pdl_wait()),
// before it touches global memory (reads *or* writes): its wait returns once
// every earlier kernel on the stream has completed and its writes are visible; its trigger then lets the next
// kernel's blocks be scheduled (that kernel still waits for this one's
// completion in its own pdl_enter). Kernels that are not launched this way
// need nothing (both are no-ops without a programmatic dependency, and before
// sm_90).
//
// QBENCH_CUDA_PDL=0 at start-up launches everything the plain way (A/B runs).
// Include from CUDA sources only.
#include <cuda_runtime.h>

#include <utility>

#include "engines/cuda/cuda_check.h"
#include "engines/cuda/pdl_control.h"

namespace qbench::cuda {

// The two halves of pdl_enter(), apart for a kernel that lets the next kernel's blocks be scheduled only when its
// own blocks finish (pdl_trigger() last): a GEMV followed directly by another GEMV, whose blocks would otherwise
// take whatever SMs free up first and spread unevenly (linear_int4_cuda.h fold_rmsnorm_into_int4).
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void pdl_trigger() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

// First statement of every kernel launched with launch_pdl. Two exceptions, reads only, so that their latency
// overlaps the tail of the kernel before:
//  - memory no kernel writes while a model runs (weights, biases, norm weights): the decode GEMVs' first units;
//  - memory last written by a kernel earlier than the one directly before: every kernel here triggers only after
//    its own wait, so when this one is launched all kernels but its predecessor have completed. Read through L2
//    (__ldcg). The decode GEMVs' residual (x, written by the o or down GEMV a half-layer back; never by the
//    kernel right before a GEMV that adds into it: the attention's combine before o, SiLU·mul or gate/up before
//    down) — int4_gemv_cuda.cu's staged launches and gguf_gemv_cuda.cu.
__device__ __forceinline__ void pdl_enter() {
  pdl_wait();
  pdl_trigger();
}

// launch_pdl with the grid's blocks in thread-block clusters of cluster_x consecutive blocks along x (sm_90+;
// the kernel may use its cluster's shared memory; grid.x a multiple of cluster_x); cluster_x 0: no clusters.
template <class... KArgs, class... Args>
void launch_pdl_clustered(void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem, cudaStream_t s,
                          unsigned cluster_x, Args&&... args) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = s;
  cudaLaunchAttribute attr[2];
  unsigned n = 0;
  if (cluster_x) {
    attr[n].id = cudaLaunchAttributeClusterDimension;
    attr[n].val.clusterDim.x = cluster_x;
    attr[n].val.clusterDim.y = 1;
    attr[n].val.clusterDim.z = 1;
    ++n;
  }
  if (pdl_enabled()) {
    attr[n].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[n].val.programmaticStreamSerializationAllowed = 1;
    ++n;
  }
  cfg.attrs = attr;
  cfg.numAttrs = n;
  QB_CUDA(cudaLaunchKernelEx(&cfg, kernel, KArgs(std::forward<Args>(args))...));
}

template <class... KArgs, class... Args>
void launch_pdl(void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem, cudaStream_t s, Args&&... args) {
  if (!pdl_enabled()) {
    kernel<<<grid, block, smem, s>>>(std::forward<Args>(args)...);
    return;
  }
  launch_pdl_clustered(kernel, grid, block, smem, s, 0u, std::forward<Args>(args)...);
}

}  // namespace qbench::cuda
