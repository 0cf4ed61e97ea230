#pragma once
// Folding the launches that follow a queued GEMV into its epilogue (decode):
// the transformer's q/k/v bias adds and its two residual adds per layer then
// cost no launch of their own. Each applies only when the GEMV is the last
// queued launch (nothing ran in between) and the shapes match exactly, so the
// result equals running them one after another; otherwise it returns false and
// the caller queues its own kernel.
#include <cstddef>
#include <cstdint>

namespace qbench::cuda {

// Whether byte ranges [p, p + pb) and [q, q + qb) share a byte. A fold writes one buffer while the launch
// it joins still reads others: every fold checks its written range against them first.
inline bool ranges_overlap(const void* p, size_t pb, const void* q, size_t qb) {
  const auto *a0 = static_cast<const uint8_t*>(p), *b0 = static_cast<const uint8_t*>(q);
  return a0 < b0 + qb && b0 < a0 + pb;
}

// y[r, :] += b for rows r < rows, where y [rows, dim] is one output of the last GEMV.
bool gemv_fold_bias(float* y, const float* b, int64_t rows, int64_t dim);
// y += x over count values, where x is one whole output of the last GEMV.
bool gemv_fold_residual(float* y, const float* x, int64_t count);

}  // namespace qbench::cuda
