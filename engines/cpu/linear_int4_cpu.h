#pragma once
// Int4 group-quantized Linear (GPTQ and AWQ checkpoints alike) on the CPU.
// Holds only the packed codes and per-group scale/zero (int4_packed.h).
// Decode (n < 4): GEMV with in-register dequantisation, two rows per step,
// rows across OpenMP threads. Prefill: each thread dequantises a tile of rows
// to float32 and runs Eigen's GEMM on it (cpu::gemm_xbt).
#include <memory>
#include <string>

#include "engines/model/linear.h"
#include "engines/quant/int4_codes.h"

namespace qbench {

// `kind` names the storage in results, e.g. "gptq-int4-g128".
std::unique_ptr<Linear> make_int4_linear_cpu(const quant::Int4Codes& codes, const std::string& kind);

}  // namespace qbench
