#pragma once
// The process's CUDA state, shared by CudaOps and the CUDA Linears: the
// device, one stream everything runs on (in order, so no extra syncs), the
// cuBLAS handle with a workspace we allocate (so it is counted), and a few
// grow-only scratch buffers (block tables, token ids, FP16 copies of
// activations for cuBLAS). Host-only header: no CUDA types leak into it.
#include <cstddef>
#include <cstdint>
#include <string>

namespace qbench::cuda {

// Scratch slots: each holds one buffer that grows to the largest request.
// DequantWeights: FP16 weight tiles dequantised for a prefill GEMM (int4).
// GemmEpilogue: a merged cuBLAS GEMM's output before its epilogue pass (dense q/k/v at batched decode).
// Int4FragmentsAlt: the int4 GEMVs' input fragments alternate between HalfActivations and this (linear_int4_cuda.cu
// fragment_buffer), so that a GEMV writing the next one's fragments never writes the buffer it reads.
enum class Scratch {
  BlockTable,
  TokenIds,
  HalfActivations,
  AttentionPartials,
  DequantWeights,
  GemmEpilogue,
  Int4FragmentsAlt,
  kCount
};

// Initialises the device on first use. Throws qbench::Error
// ("no CUDA device: cudaGetDeviceCount: ...") where there is none.
void ensure_device();
// True when a CUDA device can be used here (never throws).
bool device_available(std::string* why = nullptr);

// cudaMalloc that throws qbench::OutOfMemory naming `what`, the bytes needed and the bytes free.
void* device_alloc(size_t bytes, const std::string& what);
void device_free(void* p);

void* scratch(Scratch slot, size_t bytes);
// Bytes held as engine workspace (scratch buffers + cuBLAS workspace).
uint64_t workspace_bytes();

// Streaming multiprocessors of the device (cached).
int sm_count();

// cudaMemGetInfo: free and total bytes of the device.
void mem_info(uint64_t* free_bytes, uint64_t* total_bytes);

// Waits for everything queued on the stream; throws on an asynchronous kernel error.
void sync(const char* where);

// Copies host bytes to the device on the engine's stream and waits for them to land (weights at load time,
// small tables on first use). Not cudaMemcpy: that runs on the legacy default stream, which our non-blocking
// stream is not ordered against, and from pageable memory it may return before the DMA has landed, so the
// first kernels after a load could read part-written weights (latent: found by reading; not what made the
// [cuda] suite flaky). Does not flush the launch queue.
void upload_sync(void* dst, const void* src, size_t bytes, const char* where);

}  // namespace qbench::cuda
