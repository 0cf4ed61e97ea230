// Streaming-read patterns on the GPU, without any arithmetic: the ceiling a
// decode GEMV's weight stream can reach at a given launch size and access
// pattern. Three tables:
//  1. launch size: 4 rotating buffers of S bytes (7, 36, 72, 256 MB; no L2
//     reuse), one launch each, a warp per chunk of C bytes (1.8, 7, 14 KB), 4
//     16-byte evict-first loads per lane issued together, 4 or 8-warp blocks,
//     graph-replayed and timed with events;
//  2. pattern at 288 MB per launch: warp per chunk (4 or 8 loads per lane),
//     persistent warps looping over chunks (2, 4, 8 blocks per SM), and a
//     per-warp cp.async ring of 4 or 8 shared-memory slots;
//  3. one wave at decode-GEMV sizes (68, 34, 8 MB): W warps per SM, a warp
//     per contiguous chunk, batches of U loads per lane with or without the
//     next batch requested early (docs/benchmarks-h100.md, eleventh session).
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

// One wave, a warp per chunk, GEMV-like: batches of U loads per lane, the next batch requested before the
// current one is consumed (PIPE) or not.
template <int U, bool PIPE>
__global__ void wave_kernel(const uint4* __restrict__ b, int64_t chunk_u4, int64_t nchunks) {
  const int64_t w = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  if (w >= nchunks) return;
  const int lane = threadIdx.x & 31;
  const uint4* p = b + w * chunk_u4 + lane;
  const int64_t batches = chunk_u4 / (32 * U);
  unsigned acc = 0;
  uint4 nx[U];
  if (PIPE && batches > 0)
#pragma unroll
    for (int u = 0; u < U; ++u) nx[u] = __ldcs(p + u * 32);
  for (int64_t k = 0; k < batches; ++k) {
    uint4 v[U];
#pragma unroll
    for (int u = 0; u < U; ++u) v[u] = PIPE ? nx[u] : __ldcs(p + (k * U + u) * 32);
    if (PIPE && k + 1 < batches)
#pragma unroll
      for (int u = 0; u < U; ++u) nx[u] = __ldcs(p + ((k + 1) * U + u) * 32);
#pragma unroll
    for (int u = 0; u < U; ++u) acc ^= v[u].x ^ v[u].w;
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

  // Microseconds per launch of 32 launches (enqueue(i), i < 32, over 4 rotating buffers) captured into one
  // graph and replayed 5 times after a warm-up replay; non-zero when a CUDA call failed.
  auto graph_us = [&](double& us, auto&& enqueue) -> int {
    constexpr int kLaunches = 32;
    cudaGraph_t g;
    cudaGraphExec_t ge;
    CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
    for (int i = 0; i < kLaunches; ++i) enqueue(i);
    CK(cudaStreamEndCapture(st, &g));
    CK(cudaGraphInstantiate(&ge, g, 0));
    CK(cudaGraphLaunch(ge, st));
    CK(cudaEventRecord(e0, st));
    for (int i = 0; i < 5; ++i) CK(cudaGraphLaunch(ge, st));
    CK(cudaEventRecord(e1, st));
    CK(cudaEventSynchronize(e1));
    CK(cudaGetLastError());
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    us = ms * 1e3 / (5 * kLaunches);
    CK(cudaGraphExecDestroy(ge));
    CK(cudaGraphDestroy(g));
    return 0;
  };

  std::printf("# 1. launch size (4 rotating buffers, warp per chunk, 4 loads per lane, graph-replayed)\n");
  for (int64_t S : {int64_t(7) << 20, int64_t(36) << 20, int64_t(72) << 20, int64_t(256) << 20})
    for (int64_t C : {1792, 7168, 14336})
      for (int bw : {4, 8}) {
        const int64_t cu = C / 16, n = S / C;
        double per_us = 0;
        if (graph_us(per_us, [&](int i) {
              const uint4* b = reinterpret_cast<const uint4*>(base + ((i % 4) * S) % (total - S));
              chunks_kernel<4><<<unsigned((n + bw - 1) / bw), bw * 32, 0, st>>>(b, cu, n);
            }))
          return 1;
        std::printf("S=%4lld MB  chunk %6lld B  %d-warp blocks: %8.2f us/launch %7.0f GB/s\n", (long long)(S >> 20),
                    (long long)C, bw, per_us, double(S) / (per_us * 1e3));
      }

  std::printf("# 3. one wave at decode-GEMV sizes (4 rotating buffers, graph-replayed): W warps per SM in\n"
              "#    blocks of W/2, a warp per contiguous chunk of S / (SMs * W), batches of U loads per lane\n"
              "#    (U * 512 B per warp), the next batch requested before the current one is used (pipe) or not\n");
  for (int64_t S : {int64_t(68) << 20, int64_t(34) << 20, int64_t(8) << 20})
    for (int W : {18, 24, 32, 48, 64})
      for (int v = 0; v < 5; ++v) {
        static const char* names[5] = {"U=2 pipe", "U=4", "U=4 pipe", "U=8", "U=8 pipe"};
        const int64_t n = int64_t(sms) * W;
        const int64_t cu = S / n / 4096 * 256;  // whole 4 KiB pieces: every variant reads the whole chunk
        const int bw = W / 2;
        double per_us = 0;
        if (graph_us(per_us, [&](int i) {
              const uint4* b = reinterpret_cast<const uint4*>(base + ((i % 4) * (S + (int64_t(1) << 20))) % (total - S));
              const unsigned grid = unsigned(sms * 2);
              if (v == 0) wave_kernel<2, true><<<grid, bw * 32, 0, st>>>(b, cu, n);
              if (v == 1) wave_kernel<4, false><<<grid, bw * 32, 0, st>>>(b, cu, n);
              if (v == 2) wave_kernel<4, true><<<grid, bw * 32, 0, st>>>(b, cu, n);
              if (v == 3) wave_kernel<8, false><<<grid, bw * 32, 0, st>>>(b, cu, n);
              if (v == 4) wave_kernel<8, true><<<grid, bw * 32, 0, st>>>(b, cu, n);
            }))
          return 1;
        const double read = double(n * cu * 16);
        std::printf("S=%3lld MB  W=%2d  chunk %6lld B  %-9s %8.2f us/launch %7.0f GB/s\n", (long long)(S >> 20), W,
                    (long long)(cu * 16), names[v], per_us, read / (per_us * 1e3));
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
