#pragma once
// Folding the launches that follow a queued GEMV into its epilogue (decode):
// the transformer's q/k/v bias adds and its two residual adds per layer then
// cost no launch of their own. Each applies only when the GEMV is the last
// queued launch (nothing ran in between) and the shapes match exactly, so the
// result equals running them one after another; otherwise it returns false and
// the caller queues its own kernel. A bias add may also reach a GEMV launch
// behind other GEMV launches that neither read nor write its output or bias
// (a launch fold: q/k and v as two GGUF launches where v's block type differs).
#include <cstddef>
#include <cstdint>

#include "engines/cuda/gemv_args.h"

namespace qbench::cuda {

struct Launch;  // launch_queue.h

// Whether byte ranges [p, p + pb) and [q, q + qb) share a byte. A fold writes one buffer while the launch
// it joins still reads others: every fold checks its written range against them first.
inline bool ranges_overlap(const void* p, size_t pb, const void* q, size_t qb) {
  const auto *a0 = static_cast<const uint8_t*>(p), *b0 = static_cast<const uint8_t*>(q);
  return a0 < b0 + qb && b0 < a0 + pb;
}

// Rows of segment s of a (merged) GEMV launch.
inline int64_t seg_rows(const GemvArgs& a, int s) { return a.end[s] - (s ? a.end[s - 1] : 0); }

// Whether one more matrix, writing y [a.n, out] from x [a.n, in], may join launch a as a segment: there is
// room, no residual add was folded in (it may write memory the launch reads), and y overlaps neither x nor
// any output already there (a merged launch has no order between its segments).
inline bool can_join(const GemvArgs& a, const float* x, int64_t in, const float* y, int64_t out) {
  if (a.nseg >= kMaxSegments) return false;
  const size_t yb = size_t(a.n * out) * sizeof(float);
  if (ranges_overlap(y, yb, x, size_t(a.n * in) * sizeof(float))) return false;
  for (int s = 0; s < a.nseg; ++s)
    if (a.resid[s] || ranges_overlap(y, yb, a.y[s], size_t(a.n * seg_rows(a, s)) * sizeof(float))) return false;
  return true;
}
// Appends the matrix W (out rows, output y) as segment a.nseg; returns its index.
inline int add_segment(GemvArgs& a, const void* W, float* y, int64_t out) {
  const int i = a.nseg++;
  a.W[i] = W;
  a.y[i] = y;
  a.end[i] = a.end[i - 1] + out;
  return i;
}

// The GEMV arguments of queued launch l (a launch with merge_tag == &kGemvTag, gemv_args.h), or nullptr when it
// is no GEMV; its input x [n, in] into the non-null out-parameters.
GemvArgs* gemv_of(Launch* l, int64_t* n = nullptr, int64_t* in = nullptr, const float** x = nullptr);

// y[r, :] += b for rows r < rows, where y [rows, dim] is one output of the last GEMV (or of one before it, see
// above).
bool gemv_fold_bias(float* y, const float* b, int64_t rows, int64_t dim);
// y += x over count values, where x is one whole output of the last GEMV.
bool gemv_fold_residual(float* y, const float* x, int64_t count);

}  // namespace qbench::cuda
