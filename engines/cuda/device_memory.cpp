#include "engines/cuda/device_memory.h"

#include <cuda_runtime.h>
#include <dlfcn.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "engines/cuda/cuda_check.h"
#include "engines/cuda/cuda_context.h"

namespace qbench::cuda {

namespace {

// NVML's C ABI, declared here so no NVML header is needed at build time.
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlProcessInfo_t {  // nvmlProcessInfo_v2_t, used by the _v3 query
  unsigned pid;
  unsigned long long usedGpuMemory;
  unsigned gpuInstanceId, computeInstanceId;
};

}  // namespace

int64_t nvml_process_used_bytes(std::string* why) {
  auto fail = [&](const std::string& w) {
    if (why) *why = w;
    return int64_t(-1);
  };
  void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) return fail("libnvidia-ml.so.1 not found");
  auto init = reinterpret_cast<int (*)()>(dlsym(lib, "nvmlInit_v2"));
  auto shutdown = reinterpret_cast<int (*)()>(dlsym(lib, "nvmlShutdown"));
  auto by_bus = reinterpret_cast<int (*)(const char*, nvmlDevice_t*)>(dlsym(lib, "nvmlDeviceGetHandleByPciBusId_v2"));
  auto procs = reinterpret_cast<int (*)(nvmlDevice_t, unsigned*, nvmlProcessInfo_t*)>(
      dlsym(lib, "nvmlDeviceGetComputeRunningProcesses_v3"));
  int64_t result = -1;
  std::string reason;
  if (!init || !shutdown || !by_bus || !procs) {
    reason = "NVML lacks the process query";
  } else if (init() != 0) {
    reason = "nvmlInit failed";
  } else {
    char bus[64] = "";
    int dev = 0;
    nvmlDevice_t h{};
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetPCIBusId(bus, sizeof bus, dev) != cudaSuccess ||
        by_bus(bus, &h) != 0) {
      reason = "NVML cannot find the CUDA device by PCI bus id";
    } else {
      std::vector<nvmlProcessInfo_t> list(64);
      unsigned n = unsigned(list.size());
      if (procs(h, &n, list.data()) != 0) {
        reason = "nvmlDeviceGetComputeRunningProcesses failed";
      } else {
        const unsigned me = unsigned(getpid());
        for (unsigned i = 0; i < n && i < list.size(); ++i)
          if (list[i].pid == me) result = int64_t(list[i].usedGpuMemory);
        if (result < 0) reason = "this process is not in NVML's list (" + std::to_string(n) + " entries; PID namespace?)";
      }
    }
    shutdown();
  }
  if (lib) dlclose(lib);
  if (result < 0) return fail(reason);
  return result;
}

nlohmann::json device_memory_now() {
  uint64_t f = 0, t = 0;
  mem_info(&f, &t);
  nlohmann::json j = {{"cuda_free_bytes", f}, {"cuda_total_bytes", t}, {"cuda_used_bytes", t - f},
                      {"engine_workspace_bytes", workspace_bytes()}};
  std::string why;
  const int64_t nv = nvml_process_used_bytes(&why);
  if (nv >= 0) j["nvml_process_bytes"] = nv;
  else j["nvml_unavailable"] = why;
  return j;
}

nlohmann::json device_facts() {
  ensure_device();
  int dev = 0, drv = 0, rt = 0;
  QB_CUDA(cudaGetDevice(&dev));
  cudaDeviceProp p{};
  QB_CUDA(cudaGetDeviceProperties(&p, dev));
  (void)cudaDriverGetVersion(&drv);
  (void)cudaRuntimeGetVersion(&rt);
  auto attr = [&](cudaDeviceAttr a) {
    int v = 0;
    return cudaDeviceGetAttribute(&v, a, dev) == cudaSuccess ? v : 0;
  };
  auto ver = [](int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); };
  char bus[32] = "";
  if (cudaDeviceGetPCIBusId(bus, int(sizeof bus), dev) != cudaSuccess) bus[0] = '\0';
  return {{"name", p.name},
          {"pci_bus_id", std::string(bus)},  // NVML finds the same device by it (GPU utilisation sampling)
          {"compute_capability", std::to_string(p.major) + "." + std::to_string(p.minor)},
          {"sm_count", p.multiProcessorCount},
          {"memory_bytes", uint64_t(p.totalGlobalMem)},
          {"l2_bytes", p.l2CacheSize},
          {"sm_clock_khz", attr(cudaDevAttrClockRate)},
          {"memory_clock_khz", attr(cudaDevAttrMemoryClockRate)},
          {"memory_bus_bits", attr(cudaDevAttrGlobalMemoryBusWidth)},
          {"cuda_driver_version", ver(drv)},
          {"cuda_runtime_version", ver(rt)}};
}

}  // namespace qbench::cuda
