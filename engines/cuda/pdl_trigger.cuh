#pragma once
// Kernel entry for launches through launch_pdl (pdl.cuh): wait for the kernels
// before it on the stream (griddepcontrol.wait: they have completed and their
// writes are visible), then let the next kernel's blocks be scheduled
// (griddepcontrol.launch_dependents). The trigger only lets the dependent grid
// start early; the dependent still waits for this grid's completion in its own
// pdl_wait, so it may come first thing. Before sm_90 and in kernels launched
// the plain way both are no-ops. Include from CUDA sources only.
#include "engines/cuda/pdl.cuh"

namespace qbench::cuda {

__device__ __forceinline__ void pdl_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

// First statement of every kernel launched with launch_pdl: nothing before it may touch global memory.
__device__ __forceinline__ void pdl_enter() {
  pdl_wait();
  pdl_launch_dependents();
}

}  // namespace qbench::cuda
