// Placeholder until the GGUF CUDA kernels land (issue 7): same error as before.
#include "engines/core/error.h"
#include "engines/cuda/linear_gguf_cuda.h"

namespace qbench {
std::unique_ptr<Linear> make_gguf_linear_cuda(const GgufBlocksView& v, int64_t, int64_t) {
  throw Error(std::string("GGUF type ") + quant::type_name(v.type) + " has no CUDA kernel yet; use --device cpu");
}
}  // namespace qbench
