#pragma once
// GPTQ/AWQ int4 Linear on the GPU, built from the CPU's packed form
// (engines/cpu/int4_packed.h: act-order already resolved into a permutation).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "engines/cpu/int4_packed.h"
#include "engines/model/linear.h"

namespace qbench {

// `packed` is read during the call only; `kind` names the storage in results.
std::unique_ptr<Linear> make_int4_linear_cuda(const cpu::PackedInt4& packed, const std::string& kind);

namespace cuda {
// Batch-1 decode (fold_control.h norm_folds_enabled): queued launch i is a one-row RMSNorm of x (weight w,
// eps) that now writes only the int4 GEMV fragments xf of its output; if the launch before it is an int4
// GEMV whose epilogue adds into x and every launch after it an int4 GEMV reading xf, those take its work
// over: the first writes the fragments of x·w and per row block the sum of x², the others multiply their
// sums by 1/sqrt(mean(x²) + eps). True when done; the RMSNorm launch must then not run.
bool fold_rmsnorm_into_int4(size_t i, const float* x, const float* w, int64_t dim, float eps, const void* xf);
}  // namespace cuda

}  // namespace qbench
