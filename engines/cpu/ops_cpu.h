#pragma once
// CPU implementation of the transformer's non-matrix operations (OpenMP).
#include <memory>

#include "engines/model/ops.h"

namespace qbench {

std::unique_ptr<Ops> make_cpu_ops();

}  // namespace qbench
