#pragma once
// Hardware facts every result carries: CPU topology (hwloc), ISA features that
// select kernels, memory, and NVIDIA GPUs when NVML is present at run time.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace qbench {

struct CpuInfo {
  std::string model;
  int packages = 0, cores = 0, threads = 0, numa_nodes = 0;  // threads = hardware threads (PUs) we may run on
  uint64_t l1d_bytes = 0, l2_bytes = 0, l3_bytes = 0;         // size of one cache instance; 0 if absent
  // The subset of /proc/cpuinfo flags that decides which kernels run:
  // avx, avx2, fma, f16c, avx512f, avx512bw, avx512vl, avx512_vnni, avx512_bf16,
  // avx_vnni, amx_tile, amx_bf16, amx_int8 (in that order, present ones only).
  std::vector<std::string> flags;
  nlohmann::json to_json() const;
};

struct GpuInfo {
  std::string name, driver, uuid;
  uint64_t memory_bytes = 0;
  int sm_count = 0;                // 0 when the CUDA driver library is absent
  std::string compute_capability;  // "9.0"; empty when the CUDA driver library is absent
  nlohmann::json to_json() const;
};

struct SystemInfo {
  std::string hostname, os, kernel;
  CpuInfo cpu;
  uint64_t memory_bytes = 0;
  std::vector<GpuInfo> gpus;  // empty without NVML ("libnvidia-ml.so.1"): not an error
  nlohmann::json to_json() const;
};

// Collected on the first call and cached for the life of the process.
SystemInfo collect_system_info();

// Human-readable multi-line text (for `qbench sysinfo`).
std::string format_system_info(const SystemInfo&);

}  // namespace qbench
