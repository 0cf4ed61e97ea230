#pragma once
// QBENCH_DEBUG_SKIP=rope,combine,norm,silu,attn: queued kernels of those kinds are not launched (rope: RoPE
// with its K/V store; norm: every RMSNorm; silu: SiLU·mul; attn: the decode rows' attention kernels and their
// combine pass; combine: that pass alone, or the clustered merge inside the decode kernel). Results are wrong: the step time then bounds what removing the
// kernel could gain (docs/benchmarks-h100.md, tenth session). A measurement switch only, read once.
#include <cstdlib>
#include <cstring>
#include <string>

namespace qbench::cuda {

inline bool debug_skip(const char* kind) {
  static const std::string list = [] {
    const char* e = std::getenv("QBENCH_DEBUG_SKIP");
    return e ? "," + std::string(e) + "," : std::string();
  }();
  return !list.empty() && list.find("," + std::string(kind) + ",") != std::string::npos;
}

}  // namespace qbench::cuda
