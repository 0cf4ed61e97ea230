#pragma once
// The PDL switch (pdl.cuh has the launch and the kernel side), in plain C++ so
// tests can include it. Defined in cuda_context.cu.
namespace qbench::cuda {
// True unless QBENCH_CUDA_PDL=0 or the device is older than sm_90.
bool pdl_enabled();
// Tests switch it (on is ignored before sm_90). The graph cache key holds it (launch_queue.cu), so a graph
// captured under one setting is never replayed under the other.
void set_pdl_enabled(bool on);
// Whether the decode GEMVs request their first weights before waiting for the kernel before them (pdl.cuh):
// on unless QBENCH_CUDA_EARLY_WEIGHTS=0 at start-up (A/B runs).
bool early_weight_loads();
}  // namespace qbench::cuda
