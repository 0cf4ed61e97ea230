#pragma once
// Mean milliseconds of `reps` back-to-back calls f(1) .. f(reps) on the default stream, after one warm-up
// call f(0) (the index lets a benchmark rotate buffers), timed with CUDA events.
#include <cuda_runtime.h>

template <class F>
float mean_ms(F f, int reps) {
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  f(0);
  cudaEventRecord(a);
  for (int i = 0; i < reps; ++i) f(i + 1);
  cudaEventRecord(b);
  cudaEventSynchronize(b);
  float ms = 0;
  cudaEventElapsedTime(&ms, a, b);
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return ms / float(reps);
}
