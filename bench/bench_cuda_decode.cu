// One decode step on CUDA, taken apart (issue 7): per-step wall time of
// forward(1 token) with CUDA graphs on and off, how many launches a step
// queues, and how long the host spends building each step's queue (time the
// GPU may sit idle); then greedy decode as the latency workload runs it, the
// token picked on the device, synchronously (forward_batch_greedy: the host
// builds each step while the GPU waits) and pipelined (decode_greedy: the next
// step queued before this one's token is read). Under Nsight Compute, only the
// forward steps with graphs are profiled (cudaProfilerStart/Stop):
// `ncu --profile-from-start off ...`.
// usage: bench_cuda_decode --model DIR [--prompt 512] [--steps 64] [--kv f16|f32]
#include <cuda_profiler_api.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engines/cuda/cuda_context.h"
#include "engines/cuda/launch_queue.h"
#include "engines/cuda/register_cuda.h"
#include "engines/registry/registry.h"

using namespace qbench;

int main(int argc, char** argv) try {
  std::string model, kv = "f16";
  int64_t prompt = 512, steps = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--model") model = v;
    else if (a == "--prompt") prompt = std::atoll(v.c_str());
    else if (a == "--steps") steps = std::atoll(v.c_str());
    else if (a == "--kv") kv = v;
    else { std::fprintf(stderr, "unknown option %s\n", a.c_str()); return 2; }
  }
  if (model.empty() || prompt < 1 || steps < 4) {
    std::fprintf(stderr, "usage: bench_cuda_decode --model DIR [--prompt 512] [--steps 64] [--kv f16|f32]\n");
    return 2;
  }
  register_cuda_device();
  LoadOptions lo;
  lo.path = model;
  lo.device = "cuda";
  auto e = load_engine(lo);
  Transformer& m = e->model();
  const int64_t V = m.config().vocab_size;
  std::vector<int32_t> ids(static_cast<size_t>(prompt));
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t((i * 7919 + 13) % size_t(V));

  std::printf("%-7s %10s %10s %10s %12s %10s\n", "graphs", "ms/step", "p10", "p90", "launch/step", "build ms");
  for (int graphs = 1; graphs >= 0; --graphs) {
    cuda::set_graphs_enabled(graphs == 1);
    Sequence s = m.new_sequence(prompt + steps + 1, parse_kv_type(kv));  // 4 warm-up steps + steps - 3 measured
    std::vector<float> logits;
    m.forward(s, ids.data(), prompt, LogitsMode::Last, logits);
    int32_t tok = 0;
    for (int w = 0; w < 4; ++w) {  // warm-up: two steps direct, two captured (launch_queue.cu: two staging halves)
      tok = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
      m.forward(s, &tok, 1, LogitsMode::Last, logits);
    }
    const auto st0 = cuda::graph_stats();
    if (graphs) (void)cudaProfilerStart();
    std::vector<double> ms;
    for (int64_t i = 3; i < steps; ++i) {
      tok = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
      const auto t0 = std::chrono::steady_clock::now();
      m.forward(s, &tok, 1, LogitsMode::Last, logits);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    if (graphs) (void)cudaProfilerStop();
    const auto st1 = cuda::graph_stats();
    std::sort(ms.begin(), ms.end());
    const double k = double(ms.size());
    std::printf("%-7s %10.3f %10.3f %10.3f %12.1f %10.3f\n", graphs ? "on" : "off", ms[ms.size() / 2],
                ms[size_t(0.1 * k)], ms[size_t(0.9 * k)], double(st1.launched() - st0.launched()) / k,
                double(st1.build_ns - st0.build_ns) / k / 1e6);
    if (graphs)
      std::printf("        graph replays %llu of %zu steps, %llu captures in all\n",
                  (unsigned long long)(st1.graph_launches - st0.graph_launches), ms.size(),
                  (unsigned long long)st1.captures);
  }
  cuda::set_graphs_enabled(true);

  // Greedy decode, ids from the device: synchronous, then pipelined. Each row: its own sequence, 8 steps of
  // warm-up (graph captures), then the measured tokens' arrival intervals at the host.
  for (int pipelined = 0; pipelined <= 1; ++pipelined) {
    Sequence s = m.new_sequence(prompt + steps + 8, parse_kv_type(kv));
    std::vector<float> logits;
    m.forward(s, ids.data(), prompt, LogitsMode::Last, logits);
    int32_t tok = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
    auto decode = [&](int64_t n, std::vector<double>* ms) {
      auto t = std::chrono::steady_clock::now();
      auto on_token = [&](int32_t next) {
        const auto now = std::chrono::steady_clock::now();
        if (ms) ms->push_back(std::chrono::duration<double, std::milli>(now - t).count());
        t = now;
        tok = next;
        return true;
      };
      if (pipelined) {
        m.decode_greedy(s, tok, n, on_token);
      } else {
        std::vector<int32_t> next;
        for (int64_t i = 0; i < n; ++i) {
          m.forward_batch_greedy({{&s, &tok, 1, true}}, next);
          on_token(next[0]);
        }
      }
    };
    decode(8, nullptr);
    const auto st0 = cuda::graph_stats();
    std::vector<double> ms;
    decode(steps, &ms);
    const auto st1 = cuda::graph_stats();
    ms.erase(ms.begin(), ms.begin() + 2);  // the pipeline filling
    std::sort(ms.begin(), ms.end());
    const double k = double(ms.size());
    std::printf("%-7s %10.3f %10.3f %10.3f %12.1f %10.3f\n", pipelined ? "pipe" : "greedy", ms[ms.size() / 2],
                ms[size_t(0.1 * k)], ms[size_t(0.9 * k)], double(st1.launched() - st0.launched()) / double(steps),
                double(st1.build_ns - st0.build_ns) / double(steps) / 1e6);
  }
  std::printf("greedy: ids picked on the device, one step at a time; pipe: the next step queued before this one's id\n"
              "is read (Transformer::decode_greedy); their ms/step are token arrival intervals at the host\n");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_cuda_decode: %s\n", e.what());
  return 1;
}
