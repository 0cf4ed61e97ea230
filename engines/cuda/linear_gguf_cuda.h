#pragma once
// GGUF block Linear on the GPU: the file's blocks copied as they are.
#include <memory>

#include "engines/model/linear.h"

namespace qbench {

// `view` (blocks, row map) is read during the call only.
std::unique_ptr<Linear> make_gguf_linear_cuda(const GgufBlocksView& view, int64_t in, int64_t out);

}  // namespace qbench
