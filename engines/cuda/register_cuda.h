#pragma once
// Makes `--device cuda` available to load_engine. Programs that link
// qbench_cuda call this once at start-up (under #ifdef QBENCH_HAVE_CUDA).
namespace qbench {

void register_cuda_device();

}  // namespace qbench
