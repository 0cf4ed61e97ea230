// Streaming-read patterns on the GPU, without any arithmetic: the ceiling a
// decode GEMV's weight stream can reach at a given launch size and access
// pattern. Two tables:
//  1. launch size: 4 rotating buffers of S bytes (7, 36, 72, 256 MB; no L2
//     reuse), one launch each, a warp per chunk of C bytes (1.8, 7, 14 KB), 4
//     16-byte evict-first loads per lane issued together, 4 or 8-warp blocks,
//     graph-replayed and timed with events;
//  2. pattern at 288 MB per launch: warp per chunk (4 or 8 loads per lane),
//     persistent warps looping over chunks (2, 4, 8 blocks per SM), and a
//     per-warp cp.async ring of 4 or 8 shared-memory slots.
// What it showed on the H100 (docs/cuda.md, int4 section): every pattern
// streams 2.9-3.1 TB/s at >= 72 MB, 2.7 at 36 MB, 1.4-1.9 at 7 MB; the int4
// GEMVs, at 1.0-1.5 TB/s, lose their bandwidth in the kernel.
// usage: bench_cuda_stream
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>

#include "bench/bench_cuda_check.h"
#include "engines/cuda/mma.cuh"

using namespace qbench::cuda;

namespace {

__device__ unsigned g_sink;

// One warp reads a chunk of chunk_u4 uint4, U loads per lane issued together; returns a fold of the data.
template <int U>
__device__ __forceinline__ unsigned read_chunk(const uint4* __restrict__ p, int64_t chunk_u4, int lane) {
  unsigned acc = 0;
  for (int64_t k = lane; k < chunk_u4; k += 32 * U) {
    uint4 v[U];
#pragma unroll
    for (int u = 0; u < U; ++u)
      if (k + u * 32 < chunk_u4) v[u] = __ldcs(p + k + u * 32);
#pragma unroll
    for (int u = 0; u < U; ++u)
      if (k + u * 32 < chunk_u4) acc ^= v[u].x ^ v[u].w;
  }
  return acc;
}

// A warp per chunk.
template <int U>
__global__ void chunks_kernel(const uint4* __restrict__ b, int64_t chunk_u4, int64_t nchunks) {
  const int64_t w = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  if (w >= nchunks) return;
  const unsigned acc = read_chunk<U>(b + w * chunk_u4, chunk_u4, threadIdx.x & 31);
  if (acc == 0x12345u) g_sink = acc;  // keeps the loads
}

// Persistent warps: warp w reads chunks w, w + W, ...
template <int U>
__global__ void persistent_kernel(const uint4* __restrict__ b, int64_t chunk_u4, int64_t nchunks) {
  const int64_t w0 = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const int64_t W = (int64_t(gridDim.x) * blockDim.x) >> 5;
  unsigned acc = 0;
  for (int64_t w = w0; w < nchunks; w += W) acc ^= read_chunk<U>(b + w * chunk_u4, chunk_u4, threadIdx.x & 31);
  if (acc == 0x12345u) g_sink = acc;
}

// A warp per chunk through a ring of D shared-memory slots of 512 bytes (cp.async, D - 1 in flight).
template <int D>
__global__ void ring_kernel(const uint4* __restrict__ b, int64_t chunk_u4, int64_t nchunks) {
  __shared__ uint4 ring[8][D][32];
  const int lane = threadIdx.x & 31, wib = threadIdx.x >> 5;
  const int64_t w = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  if (w >= nchunks) return;
  const uint4* p = b + w * chunk_u4;
  const int units = int(chunk_u4 / 32);
  unsigned acc = 0;
  int iu = 0;
  auto issue = [&](int slot) {
    if (iu < units) cp_async16(&ring[wib][slot][lane], p + iu * 32 + lane, true);
    ++iu;
    cp_async_commit();
  };
  for (int i = 0; i < D - 1; ++i) issue(i);
  int is = D - 1, rs = 0;
  for (int u = 0; u < units; ++u) {
    issue(is);
    is = is + 1 == D ? 0 : is + 1;
    cp_async_wait<D - 1>();
    const uint4 v = ring[wib][rs][lane];
    rs = rs + 1 == D ? 0 : rs + 1;
    acc ^= v.x ^ v.w;
  }
  if (acc == 0x12345u) g_sink = acc;
}

}  // namespace

int main() {
  const int64_t total = int64_t(1) << 30;
  char* base = nullptr;
  CK(cudaMalloc(&base, size_t(total)));
  CK(cudaMemset(base, 3, size_t(total)));
  cudaStream_t st;
  CK(cudaStreamCreate(&st));
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  int sms = 0;
  CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));

  std::printf("# 1. launch size (4 rotating buffers, warp per chunk, 4 loads per lane, graph-replayed)\n");
  for (int64_t S : {int64_t(7) << 20, int64_t(36) << 20, int64_t(72) << 20, int64_t(256) << 20})
    for (int64_t C : {1792, 7168, 14336})
      for (int bw : {4, 8}) {
        const int64_t cu = C / 16, n = S / C;
        const int R = 4, reps = 8;
        cudaGraph_t g;
        cudaGraphExec_t ge;
        CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
        for (int it = 0; it < reps; ++it)
          for (int r = 0; r < R; ++r) {
            const uint4* b = reinterpret_cast<const uint4*>(base + (r * S) % (total - S));
            chunks_kernel<4><<<unsigned((n + bw - 1) / bw), bw * 32, 0, st>>>(b, cu, n);
          }
        CK(cudaStreamEndCapture(st, &g));
        CK(cudaGraphInstantiate(&ge, g, 0));
        CK(cudaGraphLaunch(ge, st));
        CK(cudaEventRecord(e0, st));
        for (int i = 0; i < 5; ++i) CK(cudaGraphLaunch(ge, st));
        CK(cudaEventRecord(e1, st));
        CK(cudaEventSynchronize(e1));
        float ms = 0;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        const double per_us = ms * 1e3 / (5 * reps * R);
        std::printf("S=%4lld MB  chunk %6lld B  %d-warp blocks: %8.2f us/launch %7.0f GB/s\n", (long long)(S >> 20),
                    (long long)C, bw, per_us, double(S) / (per_us * 1e3));
        CK(cudaGraphExecDestroy(ge));
        CK(cudaGraphDestroy(g));
      }

  std::printf("# 2. pattern, 288 MB per launch\n");
  const int64_t bytes = int64_t(288) << 20;
  const uint4* b = reinterpret_cast<const uint4*>(base);
  auto run = [&](const char* what, long long C, auto launch) -> int {
    for (int i = 0; i < 3; ++i) launch();
    CK(cudaEventRecord(e0));
    for (int i = 0; i < 20; ++i) launch();
    CK(cudaEventRecord(e1));
    CK(cudaEventSynchronize(e1));
    CK(cudaGetLastError());
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    std::printf("%-34s chunk %6lld B: %7.0f GB/s\n", what, C, double(bytes) * 20 / (ms * 1e6));
    return 0;
  };
  for (int64_t C : {7168, 14336}) {  // whole 512-byte units per chunk (the ring reads units)
    const int64_t cu = C / 16, n = bytes / C;
    for (int bw : {4, 8}) {
      const unsigned grid = unsigned((n + bw - 1) / bw);
      if (run(bw == 4 ? "warp per chunk, U=4, 4-warp blocks" : "warp per chunk, U=4, 8-warp blocks", C,
              [&] { chunks_kernel<4><<<grid, bw * 32>>>(b, cu, n); }))
        return 1;
      if (run(bw == 4 ? "warp per chunk, U=8, 4-warp blocks" : "warp per chunk, U=8, 8-warp blocks", C,
              [&] { chunks_kernel<8><<<grid, bw * 32>>>(b, cu, n); }))
        return 1;
    }
    for (int per : {2, 4, 8}) {
      char what[64];
      std::snprintf(what, sizeof what, "persistent, %d x 8-warp blocks/SM", per);
      if (run(what, C, [&] { persistent_kernel<4><<<unsigned(sms * per), 256>>>(b, cu, n); })) return 1;
    }
    const unsigned grid8 = unsigned((n + 7) / 8);
    if (run("cp.async ring, 8 slots per warp", C, [&] { ring_kernel<8><<<grid8, 256>>>(b, cu, n); })) return 1;
    if (run("cp.async ring, 4 slots per warp", C, [&] { ring_kernel<4><<<grid8, 256>>>(b, cu, n); })) return 1;
  }
  return 0;
}
