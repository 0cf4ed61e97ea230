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
enum class Scratch { BlockTable, TokenIds, HalfActivations, AttentionPartials, DequantWeights, GemmEpilogue, kCount };

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

}  // namespace qbench::cuda
