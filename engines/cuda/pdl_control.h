#pragma once
// pdl.cuh's switches for plain C++ callers (tests): same declarations, no CUDA headers.
namespace qbench::cuda {
bool pdl_enabled();
void set_pdl_enabled(bool on);
}  // namespace qbench::cuda
