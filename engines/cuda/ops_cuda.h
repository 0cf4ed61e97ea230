#pragma once
// CUDA implementation of the transformer's non-matrix operations and of its
// device memory (cudaMalloc; out of memory names needed vs free bytes).
#include <memory>

#include "engines/model/ops.h"

namespace qbench {

// Throws qbench::Error ("no CUDA device: ...") where no GPU can be used.
std::unique_ptr<Ops> make_cuda_ops();

}  // namespace qbench
