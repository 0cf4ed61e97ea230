#pragma once
// Greedy sampling on the device: out[r] = index of the largest of x[r, 0..n) (lowest index on ties, as
// argmax() on the host; NaN never wins). Queued (launch_queue.h), graph-safe.
#include <cstdint>

namespace qbench::cuda {

void enqueue_argmax_rows(const float* x, int64_t rows, int64_t n, int32_t* out);

}  // namespace qbench::cuda
