#include "engines/cuda/cuda_context.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>

#include "engines/core/env_flag.h"
#include "engines/cuda/cuda_check.h"
#include "engines/cuda/launch_queue.h"
#include "engines/cuda/pdl_control.h"

namespace qbench::cuda {

namespace {

// cuBLAS on Hopper wants up to 32 MiB of workspace; we hand it ours so it is counted.
constexpr size_t kCublasWorkspace = size_t(32) << 20;

struct State {
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  void* cublas_ws = nullptr;
  void* scratch[int(Scratch::kCount)] = {};
  size_t scratch_size[int(Scratch::kCount)] = {};
};

State& state() {
  static State s;
  return s;
}

std::once_flag g_once;
std::string g_init_error;

void init() {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    g_init_error = std::string("no CUDA device: cudaGetDeviceCount: ") + cudaGetErrorString(e);
    (void)cudaGetLastError();
    return;
  }
  if (n == 0) {
    g_init_error = "no CUDA device: cudaGetDeviceCount found 0 devices";
    return;
  }
  try {
    QB_CUDA(cudaSetDevice(0));
    State& s = state();
    QB_CUDA(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking));
    QB_CUBLAS(cublasCreate(&s.cublas));
    QB_CUBLAS(cublasSetStream(s.cublas, s.stream));
    s.cublas_ws = device_alloc(kCublasWorkspace, "cuBLAS workspace");
    QB_CUBLAS(cublasSetWorkspace(s.cublas, s.cublas_ws, kCublasWorkspace));
  } catch (const Error& err) {
    g_init_error = err.what();
  }
}

}  // namespace

bool device_available(std::string* why) {
  std::call_once(g_once, init);
  if (why) *why = g_init_error;
  return g_init_error.empty();
}

void ensure_device() {
  std::string why;
  if (!device_available(&why)) throw Error(why);
}

namespace {
// -1: not decided yet; 0/1 afterwards (set_pdl_enabled overrides).
int g_pdl = -1;

// PDL needs sm_90; 0 where the device cannot be asked.
bool device_has_pdl() {
  int dev = 0, major = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return major >= 9;
}
}  // namespace

bool pdl_enabled() {
  if (g_pdl < 0) {
    g_pdl = !env_equals("QBENCH_CUDA_PDL", "0") && device_has_pdl() ? 1 : 0;
  }
  return g_pdl == 1;
}

void set_pdl_enabled(bool on) { g_pdl = on && device_has_pdl() ? 1 : 0; }

bool early_weight_loads() {
  static const bool on = !env_equals("QBENCH_CUDA_EARLY_WEIGHTS", "0");
  return on;
}

int sm_count() {
  static const int n = [] {
    int dev = 0, v = 0;
    QB_CUDA(cudaGetDevice(&dev));
    QB_CUDA(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, dev));
    return v;
  }();
  return n;
}

cudaStream_t stream() {
  ensure_device();
  return state().stream;
}

cublasHandle_t cublas() {
  ensure_device();
  return state().cublas;
}

void* cublas_workspace(size_t* bytes) {
  ensure_device();
  if (bytes) *bytes = kCublasWorkspace;
  return state().cublas_ws;
}

void mem_info(uint64_t* free_bytes, uint64_t* total_bytes) {
  size_t f = 0, t = 0;
  QB_CUDA(cudaMemGetInfo(&f, &t));
  if (free_bytes) *free_bytes = f;
  if (total_bytes) *total_bytes = t;
}

// QBENCH_DEBUG_POISON=1 fills every new device allocation with 0xFF bytes (NaN as FP32, FP16 and BF16), or only
// those whose `what` contains its value: a kernel that reads memory nothing wrote then fails every time instead
// of now and then, with whatever the last owner of the memory left there. A debugging switch, not for runs.
static void poison_if_asked(void* p, size_t bytes, const std::string& what) {
  static const std::string want = [] {
    const char* v = std::getenv("QBENCH_DEBUG_POISON");
    return std::string(v && std::string(v) != "0" ? v : "");
  }();
  if (want.empty() || (want != "1" && what.find(want) == std::string::npos)) return;
  // Not on stream(): the first allocation (the cuBLAS workspace) is made while the stream is being set up.
  cudaError_t e = cudaMemset(p, 0xFF, bytes);
  if (e == cudaSuccess) e = cudaDeviceSynchronize();
  if (e != cudaSuccess) throw_cuda(e, "QBENCH_DEBUG_POISON fill");
}

void* device_alloc(size_t bytes, const std::string& what) {
  if (bytes == 0) return nullptr;
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();  // clear the sticky-free error so later calls work
    size_t f = 0, t = 0;
    (void)cudaMemGetInfo(&f, &t);
    throw OutOfMemory("CUDA device memory exhausted allocating " + what + ": needed " + std::to_string(bytes >> 20) +
                          " MiB, " + std::to_string(f >> 20) + " MiB free of " + std::to_string(t >> 20) + " MiB",
                      bytes, f);
  }
  if (e != cudaSuccess) throw_cuda(e, ("cudaMalloc for " + what).c_str());
  poison_if_asked(p, bytes, what);
  return p;
}

void device_free(void* p) {
  if (!p) return;
  // Queued launches may still use p: run them first. Never throws (called from destructors).
  try {
    flush();
  } catch (...) {
  }
  // cudaFree's documentation promises synchronous behaviour only "for most use cases": wait for our stream.
  (void)cudaStreamSynchronize(stream());
  (void)cudaFree(p);
}

void* scratch(Scratch slot, size_t bytes) {
  State& s = state();
  const int i = int(slot);
  if (bytes > s.scratch_size[i]) {
    const size_t grown = std::max(bytes, s.scratch_size[i] * 2);
    // cudaFree waits for queued kernels that may still read the old buffer.
    device_free(s.scratch[i]);
    s.scratch[i] = nullptr;
    s.scratch_size[i] = 0;
    s.scratch[i] = device_alloc(grown, "scratch buffer " + std::to_string(i));
    s.scratch_size[i] = grown;
  }
  return s.scratch[i];
}

uint64_t workspace_bytes() {
  const State& s = state();
  uint64_t n = s.cublas_ws ? kCublasWorkspace : 0;
  n += staging_bytes();
  for (size_t b : s.scratch_size) n += b;
  return n;
}

void sync(const char* where) {
  flush();
  cudaError_t e = cudaStreamSynchronize(stream());
  if (e != cudaSuccess) throw_cuda(e, where);
}

void upload_sync(void* dst, const void* src, size_t bytes, const char* where) {
  if (!bytes) return;
  cudaError_t e = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream());
  if (e == cudaSuccess) e = cudaStreamSynchronize(stream());
  if (e != cudaSuccess) throw_cuda(e, where);
}

}  // namespace qbench::cuda
