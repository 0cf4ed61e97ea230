#pragma once
// Turns weights loaded on the host (CPU Linears over mapped files) into CUDA
// Linears in device memory. The host copies are dropped afterwards.
#include <string>

#include "engines/model/model_weights.h"

namespace qbench {

// Throws qbench::Error naming the backend when a Linear has no CUDA kernel yet
// (quantized formats), and qbench::OutOfMemory when the device is full.
ModelWeights upload_weights_cuda(ModelWeights host, const std::string& backend);

}  // namespace qbench
