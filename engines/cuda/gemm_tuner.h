#pragma once
// Decode-sized cuBLAS GEMMs through cuBLASLt with the algorithm chosen by timing (issue 9).
//
// At 8..128 tokens a Linear's GEMM reads its weights once and is bound by memory, and cuBLAS's
// default choice leaves bandwidth unused on some shapes: on the H100 at the 7B shapes, the fastest of
// cuBLASLt's heuristic candidates beat cublasGemmEx by 7 % on q/o and 4 % on gate/up at 64 tokens
// (bench_cuda_gemm_algos). So the first call of each (shape, token bucket) times those candidates on its
// own operands, with L2 flushed before each run so weights come from DRAM as in a step, and keeps the
// fastest; a candidate replaces cuBLASLt's first choice only when it is at least 2 % faster (run-to-run
// noise must not change the algorithm between processes). The bucket's algorithm serves every count in
// it, each checked once against cublasGemmEx on its first call (gemm_tuner.cpp: agrees). Tuning runs
// outside graph capture (a step's shape runs directly the first time: launch_queue.cu); on the H100 it took
// 312-362 ms for the 7B's 20 (shape, bucket) pairs (bench_cuda_batch_decode's tuning line), which the
// throughput workload's warm-up pays. QBENCH_CUDA_GEMM_TUNE=0: cublasGemmEx as before (A/B).
// Include from CUDA-aware sources only.
#include <library_types.h>

#include <cstdint>

namespace qbench::cuda {

// y[t][r] = Σ_k x[t][k] · w[r][k] (as run_gemm_xwt) on the engine's stream through the tuned cuBLASLt
// algorithm. Returns false, having done nothing, where tuning does not apply (token count outside
// 8..128, weights under 8 MiB, tuning off, no candidate, or a shape first seen during graph capture):
// the caller runs cublasGemmEx. Throws qbench::Error on a CUDA or cuBLAS failure.
bool run_gemm_tuned(const void* w, const void* x, cudaDataType type, float* y, int64_t rows, int64_t n, int64_t in,
                    int64_t ldy);

struct GemmTuneStats {
  uint64_t tuned = 0;          // (shape, bucket) pairs timed
  uint64_t changed = 0;        // of which a candidate other than cuBLASLt's first won
  double tuning_ms = 0;        // wall time spent timing candidates
  uint64_t tuned_calls = 0;    // GEMMs run through a tuned algorithm
  uint64_t rejected = 0;       // token counts whose first tuned result disagreed with cublasGemmEx (then used)
};
GemmTuneStats gemm_tune_stats();

// The token bucket a count falls in (tuning is shared within it): multiples of 8 up to 64, of 16 up to 128.
int64_t gemm_tune_bucket(int64_t n);

}  // namespace qbench::cuda
