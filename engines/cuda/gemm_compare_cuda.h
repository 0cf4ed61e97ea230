#pragma once
// Compares two FP32 outputs of the same GEMM (rows x n, column stride ld each), as the GEMM tuner's check
// does (gemm_tuner.cpp: agrees): where both are finite, the largest difference and the largest |ref|;
// elsewhere, how many positions are not finite in ref and how many differ in finiteness or sign of
// infinity (NaN matches NaN: the same inputs give both GEMMs the same NaN positions).
#include <cstdint>

namespace qbench::cuda {

struct GemmComparison {
  float max_abs_ref = 0;       // over positions finite in both
  float max_abs_diff = 0;      // over positions finite in both
  uint32_t nonfinite_ref = 0;  // positions not finite in ref
  uint32_t mismatched = 0;     // positions finite in one, not in the other (or +inf vs -inf, inf vs NaN)
};

// Runs on the engine's stream and waits for the answer (not for use inside graph capture).
GemmComparison compare_gemm_outputs(const float* ref, int64_t ld_ref, const float* got, int64_t ld_got, int64_t rows,
                                    int64_t n);

}  // namespace qbench::cuda
