#pragma once
// NumPy .npy (format 1.0) serialisation of a little-endian float32 array.
#include <cstdint>
#include <string>
#include <vector>

namespace qbench {

std::string npy_float32(const float* data, const std::vector<int64_t>& shape);

}  // namespace qbench
