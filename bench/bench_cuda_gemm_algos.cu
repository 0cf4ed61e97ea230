// The CUDA Linears' GEMM y[n, rows] = x[n, in] · W[rows, in]ᵀ (FP16 in, FP32 out and accumulation) at the
// 7B shapes, timed three ways: cublasGemmEx as the engine calls it (CUBLAS_GEMM_DEFAULT), cuBLASLt's first
// heuristic choice, and the fastest of cuBLASLt's top heuristic candidates (what an autotuner would pick).
// Weights rotate over enough copies that every launch reads them from DRAM, not L2. Prints a table and the
// bandwidth each reaches (weight bytes / time) so skinny decode GEMMs can be compared with the read roofline.
// usage: bench_cuda_gemm_algos [--tokens 64,2048] [--reps 50] [--algos 16]
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "bench/bench_cuda_check.h"
#include "bench/bench_cuda_timer.h"

namespace {

struct Shape {
  const char* name;
  int rows, in;
  bool pair = false;  // also as two GEMMs of rows / 2 in one strided-batched launch (the engine's gate/up)
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<long> tokens = {64, 2048};
  int reps = 50, max_algos = 16;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--tokens" && i + 1 < argc) {
      tokens.clear();
      for (const std::string& t : qbench::split_commas(argv[++i])) tokens.push_back(std::stol(t));
    }
    else if (a == "--reps" && i + 1 < argc) reps = std::atoi(argv[++i]);
    else if (a == "--algos" && i + 1 < argc) max_algos = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: bench_cuda_gemm_algos [--tokens 64,2048] [--reps 50] [--algos 16]\n");
      return 2;
    }
  }
  // Qwen2.5-7B: q/o, k/v, q+k+v merged, gate/up, down, LM head.
  const Shape shapes[] = {{"q,o", 3584, 3584},      {"k,v", 512, 3584},         {"qkv", 4608, 3584},
                          {"gate,up", 18944, 3584}, {"gate+up", 37888, 3584, true},   {"down", 3584, 18944},
                          {"lm_head", 152064, 3584}};
  cudaDeviceProp prop{};
  CK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s, %d SMs; %d reps per figure, weights rotated past L2 (%d MiB)\n", prop.name,
              prop.multiProcessorCount, reps, int(prop.l2CacheSize >> 20));
  cublasHandle_t h;
  CK(cublasCreate(&h));
  cublasLtHandle_t lt;
  CK(cublasLtCreate(&lt));
  size_t ws_bytes = 32u << 20;
  void* ws = nullptr;
  CK(cudaMalloc(&ws, ws_bytes));
  CK(cublasSetWorkspace(h, ws, ws_bytes));

  std::printf("%-8s %6s %6s %6s | %10s %8s | %10s %8s | %10s %8s %5s\n", "shape", "rows", "in", "tokens", "GemmEx ms",
              "GB/s", "Lt[0] ms", "GB/s", "Lt best ms", "GB/s", "algo");
  for (const Shape& sh : shapes) {
    for (long n : tokens) {
      const size_t wbytes = size_t(sh.rows) * sh.in * sizeof(__half);
      const int copies = int(std::max<size_t>(2, (size_t(4) * prop.l2CacheSize + wbytes - 1) / wbytes));
      const size_t total = wbytes * size_t(copies);
      void *w = nullptr, *x = nullptr, *y = nullptr;
      if (cudaMalloc(&w, total) != cudaSuccess) {
        std::printf("%-8s: skipped (%zu MiB of weight copies do not fit)\n", sh.name, total >> 20);
        cudaGetLastError();
        continue;
      }
      CK(cudaMemset(w, 0, total));  // zeros: the timing does not depend on values
      CK(cudaMalloc(&x, size_t(n) * sh.in * sizeof(__half)));
      CK(cudaMemset(x, 0, size_t(n) * sh.in * sizeof(__half)));
      CK(cudaMalloc(&y, size_t(n) * sh.rows * sizeof(float)));
      auto wi = [&](int i) { return static_cast<const char*>(w) + size_t(i % copies) * wbytes; };
      const float alpha = 1.f, beta = 0.f;
      // As enqueue_gemm_xwt: column-major Yᵀ[rows, n] = W[rows, in] · Xᵀ[in, n] with op(A) = T.
      const float t_ex = mean_ms(
          [&](int i) {
            cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, sh.rows, int(n), sh.in, &alpha, wi(i), CUDA_R_16F, sh.in, x,
                         CUDA_R_16F, sh.in, &beta, y, CUDA_R_32F, sh.rows, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
          },
          reps);
      CK(cudaGetLastError());
      if (sh.pair) {  // as run_gemm_xwt_pair: batch 2, x shared (stride 0), outputs one after the other
        const int r2 = sh.rows / 2;
        const float t_pair = mean_ms(
            [&](int i) {
              cublasGemmStridedBatchedEx(h, CUBLAS_OP_T, CUBLAS_OP_N, r2, int(n), sh.in, &alpha, wi(i), CUDA_R_16F,
                                         sh.in, (long long)r2 * sh.in, x, CUDA_R_16F, sh.in, 0, &beta, y, CUDA_R_32F,
                                         r2, (long long)r2 * n, 2, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
            },
            reps);
        CK(cudaGetLastError());
        std::printf("%-8s %6d %6d %6ld | %10.4f %8.0f | (two GEMMs of %d rows in one strided-batched launch)\n",
                    "pair", sh.rows, sh.in, n, t_pair, double(wbytes) / 1e9 / (t_pair * 1e-3), r2);
      }

      cublasLtMatmulDesc_t op;
      CK(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
      const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
      CK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
      CK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
      cublasLtMatrixLayout_t la, lb, lc;
      CK(cublasLtMatrixLayoutCreate(&la, CUDA_R_16F, sh.in, sh.rows, sh.in));
      CK(cublasLtMatrixLayoutCreate(&lb, CUDA_R_16F, sh.in, n, sh.in));
      CK(cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, sh.rows, n, sh.rows));
      cublasLtMatmulPreference_t pref;
      CK(cublasLtMatmulPreferenceCreate(&pref));
      CK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_bytes,
                                               sizeof(ws_bytes)));
      std::vector<cublasLtMatmulHeuristicResult_t> res(size_t(std::max(1, max_algos)));
      int found = 0;
      CK(cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, lc, lc, pref, int(res.size()), res.data(), &found));
      float t0 = -1, tbest = -1;
      int best = -1;
      for (int a = 0; a < found; ++a) {
        if (res[size_t(a)].state != CUBLAS_STATUS_SUCCESS) continue;
        const float t = mean_ms(
            [&](int i) {
              cublasLtMatmul(lt, op, &alpha, wi(i), la, x, lb, &beta, y, lc, y, lc, &res[size_t(a)].algo, ws, ws_bytes,
                             0);
            },
            reps);
        if (cudaGetLastError() != cudaSuccess) continue;
        if (a == 0) t0 = t;
        if (best < 0 || t < tbest) tbest = t, best = a;
      }
      const double gb = double(wbytes) / 1e9;
      std::printf("%-8s %6d %6d %6ld | %10.4f %8.0f | %10.4f %8.0f | %10.4f %8.0f %2d/%-2d\n", sh.name, sh.rows, sh.in,
                  n, t_ex, gb / (t_ex * 1e-3), t0, t0 > 0 ? gb / (t0 * 1e-3) : 0.0, tbest,
                  tbest > 0 ? gb / (tbest * 1e-3) : 0.0, best, found);
      cublasLtMatmulPreferenceDestroy(pref);
      cublasLtMatrixLayoutDestroy(la);
      cublasLtMatrixLayoutDestroy(lb);
      cublasLtMatrixLayoutDestroy(lc);
      cublasLtMatmulDescDestroy(op);
      CK(cudaFree(w));
      CK(cudaFree(x));
      CK(cudaFree(y));
    }
  }
  cublasLtDestroy(lt);
  cublasDestroy(h);
  CK(cudaFree(ws));
  return 0;
}
