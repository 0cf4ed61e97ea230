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
// Decode, n <= 4 (fold_control.h silu_folds_enabled): queued launch i is SiLU·mul of gate and up (count
// values) that now writes only the int4 GEMV fragments xf (halves, row inputs per token) of its output; if the
// launch before it is the merged int4 GEMV writing exactly gate and up (no bias, no residual), that launch
// writes the fragments of silu(gate) · up itself, bit for bit as the SiLU·mul kernel would. True when done; the
// SiLU·mul launch must then not run. H100, GPTQ 7B pipelined step: 2.380 / 2.378 / 2.376 ms against 2.384 / 2.386
// / 2.387 without (2026-11-22): the paired gate/up GEMV takes 31.6 us of the step where gate/up and SiLU·mul
// took 30.0 + 2.3 (its 6-warp blocks, the pairing barrier and a few more spilled registers).
bool fold_silu_into_int4(size_t i, const float* gate, const float* up, int64_t count, void* xf, int halves,
                         int64_t row);
}  // namespace cuda

}  // namespace qbench
