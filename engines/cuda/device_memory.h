#pragma once
// The GPU's own views of memory, reported next to the engine's accounting:
// cudaMemGetInfo (device-wide free/total) and NVML's figure for this process
// (libnvidia-ml loaded at run time; absent or not visible = "unavailable").
#include <cstdint>

#include <nlohmann/json.hpp>

namespace qbench::cuda {

// This process's GPU memory per NVML in bytes; -1 when NVML or the process entry is unavailable.
int64_t nvml_process_used_bytes(std::string* why = nullptr);

// {"cuda_free_bytes", "cuda_total_bytes", "cuda_used_bytes", "nvml_process_bytes" | "nvml_unavailable", "engine_workspace_bytes"}
nlohmann::json device_memory_now();

// GPU name, compute capability, SMs, memory, clocks, driver and runtime versions.
nlohmann::json device_facts();

}  // namespace qbench::cuda
