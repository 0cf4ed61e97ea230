#pragma once
// Human-readable numbers for terminal and Markdown output.
#include <cstdint>
#include <string>

namespace qbench {

std::string format_bytes(uint64_t bytes);   // "1.23 GiB", "512.0 MiB", "900 B"
std::string format_fixed(double v, int decimals);

}  // namespace qbench
