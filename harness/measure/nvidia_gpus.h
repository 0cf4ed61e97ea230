#pragma once
// NVIDIA GPUs found through NVML loaded at run time, so the CPU build carries
// no CUDA dependency: a machine without the driver simply has no GPUs.
#include <vector>

#include "harness/measure/sysinfo.h"

namespace qbench {

// Empty when libnvidia-ml.so.1 is absent or NVML fails to initialise; never throws.
// SM count and compute capability come from libcuda.so.1 when it loads too.
std::vector<GpuInfo> query_nvidia_gpus();

}  // namespace qbench
