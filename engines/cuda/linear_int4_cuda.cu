// Placeholder until the int4 CUDA kernels land (issue 7): same error as before.
#include "engines/core/error.h"
#include "engines/cuda/linear_int4_cuda.h"

namespace qbench {
std::unique_ptr<Linear> make_int4_linear_cuda(const cpu::PackedInt4&, const std::string& kind) {
  throw Error("'" + kind + "' has no CUDA kernel yet; use --device cpu");
}
}  // namespace qbench
