// Decode GEMV speed on the Qwen2.5-7B FP16 shapes (issue 7): each projection
// of one layer and the LM head at batch 1 (and 4), merged launches (q/k/v,
// gate/up) against separate ones, as GB/s of weights read and the per-token
// time of all 28 layers + LM head. Weight sets rotate so their total exceeds
// L2 (50 MB on the H100): the numbers are HBM reads, not cache hits.
// usage: bench_cuda_gemv [--reps 50] [--layers 28] [--hidden 3584] [--kv 512] [--ff 18944] [--vocab 152064]
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engines/cuda/cuda_check.h"
#include "engines/cuda/cuda_context.h"
#include "engines/cuda/launch_queue.h"
#include "engines/cuda/linear_dense_cuda.h"
#include "engines/cuda/ops_cuda.h"
#include "engines/model/device_array.h"

using namespace qbench;

namespace {

std::vector<uint16_t> random_f16(size_t n, uint32_t seed) {
  std::vector<uint16_t> v(n);
  uint32_t s = seed * 2654435761u + 1;
  for (auto& h : v) {
    s = s * 1664525u + 1013904223u;
    // Exponent 0x30..0x37 (magnitudes ~0.03..1), random sign and mantissa: finite, not zero.
    h = uint16_t(((s >> 16) & 0x83ffu) | (0x3000u + ((s >> 8) & 0x0700u)));
  }
  return v;
}

struct Group {
  std::string name;
  int64_t in;
  std::vector<int64_t> outs;
  int per_token;  // launches of this group per token (28 layers, 1 LM head)
};

}  // namespace

int main(int argc, char** argv) try {
  int reps = 50, layers = 28;
  int64_t hidden = 3584, kv = 512, ff = 18944, vocab = 152064;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const long long v = std::atoll(argv[i + 1]);
    if (a == "--reps") reps = int(v);
    else if (a == "--layers") layers = int(v);
    else if (a == "--hidden") hidden = v;
    else if (a == "--kv") kv = v;
    else if (a == "--ff") ff = v;
    else if (a == "--vocab") vocab = v;
    else { std::fprintf(stderr, "unknown option %s\n", a.c_str()); return 2; }
  }
  auto ops = make_cuda_ops();
  cudaDeviceProp prop{};
  QB_CUDA(cudaGetDeviceProperties(&prop, 0));
  const std::vector<Group> groups = {{"qkv", hidden, {hidden, kv, kv}, layers},
                                     {"o", hidden, {hidden}, layers},
                                     {"gate_up", hidden, {ff, ff}, layers},
                                     {"down", ff, {hidden}, layers},
                                     {"lm_head", hidden, {vocab}, 1}};
  cudaEvent_t e0, e1;
  QB_CUDA(cudaEventCreate(&e0));
  QB_CUDA(cudaEventCreate(&e1));
  double token_ms[2][2] = {};  // [batch 1/4][merged/separate]
  std::printf("%-8s %5s %-9s %10s %10s %9s\n", "group", "batch", "launch", "MB", "us", "GB/s");
  for (const Group& g : groups) {
    uint64_t set_bytes = 0;
    for (int64_t o : g.outs) set_bytes += uint64_t(o) * uint64_t(g.in) * 2;
    const int sets = int(std::max<uint64_t>(1, (uint64_t(256) << 20) / set_bytes + 1));
    std::vector<std::vector<std::unique_ptr<Linear>>> L(static_cast<size_t>(sets));
    for (int s = 0; s < sets; ++s)
      for (size_t j = 0; j < g.outs.size(); ++j) {
        const auto w = random_f16(size_t(g.in * g.outs[j]), uint32_t(s * 7 + j));
        L[size_t(s)].push_back(make_dense_linear_cuda(DType::F16, w.data(), g.in, g.outs[j]));
      }
    for (int bi = 0; bi < 2; ++bi) {
      const int64_t n = bi == 0 ? 1 : 4;
      std::vector<float> xh(size_t(n * g.in));
      for (size_t i = 0; i < xh.size(); ++i) xh[i] = float((i * 37) % 101) / 101.f - 0.5f;
      DeviceArray<float> x(ops.get(), xh, nullptr, MemCategory::Activations);
      std::vector<DeviceArray<float>> y;
      for (int64_t o : g.outs) y.emplace_back(ops.get(), size_t(n * o), nullptr, MemCategory::Activations);
      for (int merged = 1; merged >= 0; --merged) {
        if (!merged && g.outs.size() == 1) continue;
        auto one = [&](int s) {
          for (size_t j = 0; j < g.outs.size(); ++j) {
            L[size_t(s)][j]->forward(x.data(), y[j].data(), n);
            if (!merged) cuda::flush();  // a flush between them keeps the launches apart
          }
          cuda::flush();
        };
        for (int s = 0; s < sets; ++s) one(s);  // warm-up
        cuda::sync("warm-up");
        QB_CUDA(cudaEventRecord(e0, cuda::stream()));
        for (int r = 0; r < reps; ++r) one(r % sets);
        QB_CUDA(cudaEventRecord(e1, cuda::stream()));
        cuda::sync("timing");
        float ms = 0;
        QB_CUDA(cudaEventElapsedTime(&ms, e0, e1));
        const double us = 1e3 * ms / reps;
        std::printf("%-8s %5lld %-9s %10.1f %10.1f %9.0f\n", g.name.c_str(), (long long)n, merged ? "merged" : "separate",
                    set_bytes / 1e6, us, set_bytes / (us * 1e3));
        token_ms[bi][merged ? 0 : 1] += us * g.per_token / 1e3;
        if (g.outs.size() == 1) token_ms[bi][1] += us * g.per_token / 1e3;
      }
    }
  }
  std::printf("\nGEMV time per token (%d layers + LM head), %s:\n", layers, prop.name);
  for (int bi = 0; bi < 2; ++bi)
    std::printf("  batch %d: merged %.3f ms, separate %.3f ms\n", bi == 0 ? 1 : 4, token_ms[bi][0], token_ms[bi][1]);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_cuda_gemv: %s\n", e.what());
  return 1;
}
