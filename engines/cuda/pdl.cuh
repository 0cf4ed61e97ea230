#pragma once
// Programmatic dependent launch (PDL, sm_90+): a kernel launched with
// launch_pdl may be scheduled while the kernel before it on the stream is
// still finishing, so its launch latency and block setup overlap that tail
// instead of following it (in a CUDA graph the capture keeps this as a
// programmatic edge). Correctness rests on one rule: a kernel launched with
// launch_pdl calls pdl_wait() before it touches global memory (reads *or*
// writes); pdl_wait returns once every earlier kernel on the stream has
// completed and its writes are visible. Kernels that are not launched this
// way need nothing (pdl_wait is a no-op without a programmatic dependency, and
// before sm_90).
//
// QBENCH_CUDA_PDL=0 at start-up launches everything the plain way (A/B runs).
// Include from CUDA sources only.
#include <cuda_runtime.h>

#include <utility>

#include "engines/cuda/cuda_check.h"

namespace qbench::cuda {

__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

// True unless QBENCH_CUDA_PDL=0 or the device is older than sm_90 (cuda_context.cu).
bool pdl_enabled();
// Tests switch it (on is ignored before sm_90). The graph cache key holds it (launch_queue.cu), so a graph
// captured under one setting is never replayed under the other.
void set_pdl_enabled(bool on);

template <class... KArgs, class... Args>
void launch_pdl(void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem, cudaStream_t s, Args&&... args) {
  if (!pdl_enabled()) {
    kernel<<<grid, block, smem, s>>>(std::forward<Args>(args)...);
    return;
  }
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = s;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  QB_CUDA(cudaLaunchKernelEx(&cfg, kernel, KArgs(std::forward<Args>(args))...));
}

}  // namespace qbench::cuda
