#pragma once
// Devices the planner can predict for: GPUs from a catalog shipped as data
// (data/gpus.json, datasheet values with their source), extendable by the
// user, and the CPU qbench runs on, described by its measured roofline.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace qbench::plan {

struct DeviceSpec {
  std::string id;              // "h100", "t4", "cpu"
  std::string name;            // "NVIDIA H100 SXM 80GB"
  std::string match;           // substring of the NVML name that identifies it in results ("" = none)
  bool is_cpu = false;
  uint64_t memory_bytes = 0;  // usable: datasheet capacity less ECC's share where ECC takes capacity
  double bandwidth_gbs = 0;    // 1e9 B/s: datasheet peak (GPU) or measured read bandwidth (CPU)
  double matmul_tflops = 0;    // dense FP16 tensor rate (GPU) or measured FP32 GEMM rate (CPU)
  double int8_tops = 0;        // 0 = not given
  int sm_count = 0;
  std::string source;          // where the numbers come from
  nlohmann::json to_json() const;
};

// Parses a catalog document ({"gpus": [...]}); `where` names it in errors.
// Every entry needs id, name, memory_gib, bandwidth_gbs, fp16_tensor_tflops (all positive).
std::vector<DeviceSpec> parse_gpu_catalog(const nlohmann::json& doc, const std::string& where);
std::vector<DeviceSpec> load_gpu_catalog(const std::string& path);
// The shipped catalog: $QBENCH_GPU_CATALOG, else data/gpus.json of the source tree.
std::string default_gpu_catalog_path();
// Adds `extra` to `base`; an entry whose id already exists replaces it.
void merge_catalog(std::vector<DeviceSpec>& base, const std::vector<DeviceSpec>& extra);
// Throws qbench::Error listing the known ids.
const DeviceSpec& find_device(const std::vector<DeviceSpec>& catalog, const std::string& id);

// The CPU as a device, from a bench_roofline --json document (or one of its
// "rooflines" rows): read bandwidth and FP32 GEMM rate of the row whose thread
// count is `threads` (0 = the row with the most threads); memory from "system".
DeviceSpec cpu_device_from_roofline(const nlohmann::json& roofline_doc, int threads, const std::string& where);

}  // namespace qbench::plan
