#pragma once
// GPTQ/AWQ int4 Linear on the GPU, built from the CPU's packed form
// (engines/cpu/int4_packed.h: act-order already resolved into a permutation).
#include <memory>
#include <string>

#include "engines/cpu/int4_packed.h"
#include "engines/model/linear.h"

namespace qbench {

// `packed` is read during the call only; `kind` names the storage in results.
std::unique_ptr<Linear> make_int4_linear_cuda(const cpu::PackedInt4& packed, const std::string& kind);

}  // namespace qbench
