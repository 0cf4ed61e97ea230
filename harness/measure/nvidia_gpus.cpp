#include "harness/measure/nvidia_gpus.h"

#include <dlfcn.h>

#include <cstdio>
#include <map>
#include <string>

namespace qbench {

namespace {

// The few NVML / CUDA driver entry points used, declared by their C ABI so no
// NVIDIA header is needed at build time.
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlMemory_t {
  unsigned long long total, free, used;
};
constexpr nvmlReturn_t NVML_SUCCESS = 0;

using CUresult = int;
using CUdevice = int;
struct CUuuid {
  unsigned char bytes[16];
};
constexpr int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;

template <class F>
F symbol(void* lib, const char* name) {
  return reinterpret_cast<F>(dlsym(lib, name));
}

// NVML spells UUIDs "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"; the CUDA driver gives raw bytes.
std::string nvml_style_uuid(const CUuuid& u) {
  std::string s = "GPU-";
  char hex[3];
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    std::snprintf(hex, sizeof hex, "%02x", u.bytes[i]);
    s += hex;
  }
  return s;
}

struct CudaFacts {
  int sm_count = 0;
  std::string compute_capability;
};

// SM count and compute capability by GPU UUID (NVML has no SM count). The
// library stays loaded: the CUDA backend will use the same one.
std::map<std::string, CudaFacts> query_cuda_driver() {
  std::map<std::string, CudaFacts> by_uuid;
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) return by_uuid;
  auto cuInit = symbol<CUresult (*)(unsigned)>(lib, "cuInit");
  auto cuDeviceGetCount = symbol<CUresult (*)(int*)>(lib, "cuDeviceGetCount");
  auto cuDeviceGet = symbol<CUresult (*)(CUdevice*, int)>(lib, "cuDeviceGet");
  auto cuDeviceGetAttribute = symbol<CUresult (*)(int*, int, CUdevice)>(lib, "cuDeviceGetAttribute");
  auto cuDeviceGetUuid = symbol<CUresult (*)(CUuuid*, CUdevice)>(lib, "cuDeviceGetUuid_v2");
  if (!cuDeviceGetUuid) cuDeviceGetUuid = symbol<CUresult (*)(CUuuid*, CUdevice)>(lib, "cuDeviceGetUuid");
  int count = 0;
  if (!cuInit || !cuDeviceGetCount || !cuDeviceGet || !cuDeviceGetAttribute || !cuDeviceGetUuid || cuInit(0) != 0 ||
      cuDeviceGetCount(&count) != 0)
    return by_uuid;
  for (int i = 0; i < count; ++i) {
    CUdevice dev;
    CUuuid uuid;
    int sms = 0, major = 0, minor = 0;
    if (cuDeviceGet(&dev, i) != 0 || cuDeviceGetUuid(&uuid, dev) != 0) continue;
    CudaFacts f;
    if (cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev) == 0) f.sm_count = sms;
    if (cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev) == 0 &&
        cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev) == 0)
      f.compute_capability = std::to_string(major) + "." + std::to_string(minor);
    by_uuid[nvml_style_uuid(uuid)] = f;
  }
  return by_uuid;
}

}  // namespace

std::vector<GpuInfo> query_nvidia_gpus() {
  std::vector<GpuInfo> gpus;
  void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) return gpus;
  auto nvmlInit = symbol<nvmlReturn_t (*)()>(lib, "nvmlInit_v2");
  auto nvmlShutdown = symbol<nvmlReturn_t (*)()>(lib, "nvmlShutdown");
  auto nvmlSystemGetDriverVersion = symbol<nvmlReturn_t (*)(char*, unsigned)>(lib, "nvmlSystemGetDriverVersion");
  auto nvmlDeviceGetCount = symbol<nvmlReturn_t (*)(unsigned*)>(lib, "nvmlDeviceGetCount_v2");
  auto nvmlDeviceGetHandleByIndex =
      symbol<nvmlReturn_t (*)(unsigned, nvmlDevice_t*)>(lib, "nvmlDeviceGetHandleByIndex_v2");
  auto nvmlDeviceGetName = symbol<nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned)>(lib, "nvmlDeviceGetName");
  auto nvmlDeviceGetUUID = symbol<nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned)>(lib, "nvmlDeviceGetUUID");
  auto nvmlDeviceGetMemoryInfo = symbol<nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_t*)>(lib, "nvmlDeviceGetMemoryInfo");
  if (!nvmlInit || !nvmlShutdown || !nvmlSystemGetDriverVersion || !nvmlDeviceGetCount ||
      !nvmlDeviceGetHandleByIndex || !nvmlDeviceGetName || !nvmlDeviceGetUUID || !nvmlDeviceGetMemoryInfo ||
      nvmlInit() != NVML_SUCCESS) {
    dlclose(lib);
    return gpus;
  }

  char driver[96] = "";
  (void)nvmlSystemGetDriverVersion(driver, sizeof driver);
  unsigned count = 0;
  if (nvmlDeviceGetCount(&count) != NVML_SUCCESS) count = 0;
  for (unsigned i = 0; i < count; ++i) {
    nvmlDevice_t dev;
    if (nvmlDeviceGetHandleByIndex(i, &dev) != NVML_SUCCESS) continue;
    GpuInfo g;
    char text[256] = "";
    if (nvmlDeviceGetName(dev, text, sizeof text) == NVML_SUCCESS) g.name = text;
    text[0] = '\0';
    if (nvmlDeviceGetUUID(dev, text, sizeof text) == NVML_SUCCESS) g.uuid = text;
    nvmlMemory_t mem{};
    if (nvmlDeviceGetMemoryInfo(dev, &mem) == NVML_SUCCESS) g.memory_bytes = mem.total;
    g.driver = driver;
    gpus.push_back(std::move(g));
  }
  nvmlShutdown();
  dlclose(lib);

  if (!gpus.empty()) {
    const auto cuda = query_cuda_driver();
    for (auto& g : gpus) {
      if (auto it = cuda.find(g.uuid); it != cuda.end()) {
        g.sm_count = it->second.sm_count;
        g.compute_capability = it->second.compute_capability;
      }
    }
  }
  return gpus;
}

}  // namespace qbench
