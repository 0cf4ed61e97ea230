// Batched decode steps on CUDA (issue 9): the wall time of one forward_batch_greedy
// step of B sequences (each with `prompt` tokens of context) for B = 1..64, with
// the dense GEMMs on each path (auto, the tensor-core kernel, cuBLAS, the GEMV),
// against the step roofline: max(bytes / read bandwidth, FLOPs / GEMM rate), bytes
// = the Linears' weights once + every sequence's K and V. The table picks the
// decode GEMM threshold (linear_dense_cuda.cu: auto_dense_path).
// --mixed T adds T prompt tokens to every step, as continuous batching does (pieces of --chunk tokens, each a
// new sequence rewound every step, each wanting logits): the steps that carry prefill chunks in the
// throughput workload (issue 9), whose roofline is mostly the FLOP term.
// usage: bench_cuda_batch_decode --model DIR [--prompt 512] [--steps 16] [--batches 1,2,4,8,16,32,64]
//        [--paths auto,tc,cublas,gemv] [--bw-gbs 3077] [--tflops 860] [--profile-batch B]
//        [--mixed T] [--chunk 512]
#include <cuda_profiler_api.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "engines/cuda/cuda_context.h"
#include "engines/cuda/gemm_tuner.h"
#include "engines/cuda/launch_queue.h"
#include "engines/cuda/linear_dense_cuda.h"
#include "engines/cuda/register_cuda.h"
#include "engines/registry/registry.h"

using namespace qbench;

int main(int argc, char** argv) try {
  std::string model, batches_s = "1,2,4,8,16,32,64", paths_s = "auto,tc,cublas,gemv";
  int64_t prompt = 512, steps = 16, profile_batch = 0, mixed = 0, chunk = 512;
  double bw_gbs = 3077, tflops = 860;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--model") model = v;
    else if (a == "--prompt") prompt = std::atoll(v.c_str());
    else if (a == "--steps") steps = std::atoll(v.c_str());
    else if (a == "--batches") batches_s = v;
    else if (a == "--paths") paths_s = v;
    else if (a == "--bw-gbs") bw_gbs = std::atof(v.c_str());
    else if (a == "--tflops") tflops = std::atof(v.c_str());
    else if (a == "--profile-batch") profile_batch = std::atoll(v.c_str());
    else if (a == "--mixed") mixed = std::atoll(v.c_str());
    else if (a == "--chunk") chunk = std::atoll(v.c_str());
    else { std::fprintf(stderr, "unknown option %s\n", a.c_str()); return 2; }
  }
  if (model.empty() || prompt < 1 || steps < 1 || mixed < 0 || chunk < 1) {
    std::fprintf(stderr, "usage: bench_cuda_batch_decode --model DIR [--prompt 512] [--steps 16] [--batches ...]\n");
    return 2;
  }
  std::vector<int64_t> batches;
  for (auto& b : split_commas(batches_s)) batches.push_back(std::atoll(b.c_str()));
  const int64_t maxb = *std::max_element(batches.begin(), batches.end());
  register_cuda_device();
  LoadOptions lo;
  lo.path = model;
  lo.device = "cuda";
  auto e = load_engine(lo);
  Transformer& m = e->model();
  const ModelConfig& c = m.config();
  const int64_t V = c.vocab_size;
  // Bytes a decode step reads: every Linear once (the embedding table only where it is the LM head too).
  const ModelWeights& w = m.weights();
  const uint64_t wbytes = decode_bytes_per_token(w);
  const double kv_tok = double(KvCache::bytes_per_token(c.num_layers, c.num_kv_heads, c.head_dim, KvType::F16));
  double flop_tok = 0;  // 2 x multiply-adds of one token through the Linears
  for (auto& L : w.layers)
    for (const Linear* l : {L.q.get(), L.k.get(), L.v.get(), L.o.get(), L.gate.get(), L.up.get(), L.down.get()})
      flop_tok += 2.0 * double(l->in_features()) * double(l->out_features());
  const double flop_head = 2.0 * double(w.output().in_features()) * double(w.output().out_features());
  flop_tok += flop_head;

  const int warm = 3;
  const int64_t ctx_max = prompt + warm + steps + 1;
  const int64_t bt = KvBlockPool::kDefaultBlockTokens, ctx_blocks = (ctx_max + bt - 1) / bt;
  const int64_t pieces = (mixed + chunk - 1) / chunk, chunk_blocks = (chunk + bt - 1) / bt;
  auto pool = m.new_kv_pool((maxb * ctx_blocks + pieces * chunk_blocks) * bt, KvType::F16, bt);
  std::vector<Sequence> seqs;
  std::vector<std::vector<int32_t>> ids(static_cast<size_t>(maxb));
  for (int64_t i = 0; i < maxb; ++i) {
    seqs.push_back(m.new_sequence_in(pool));
    if (!seqs.back().kv->reserve(ctx_max)) throw std::runtime_error("KV pool too small");
    ids[size_t(i)].resize(size_t(prompt));
    for (int64_t t = 0; t < prompt; ++t) ids[size_t(i)][size_t(t)] = int32_t((t * 7919 + i * 104729 + 13) % V);
  }
  // The mixed steps' prompt pieces: new sequences, rewound to position 0 before every step.
  std::vector<Sequence> fresh;
  std::vector<int64_t> fresh_rows;
  std::vector<int32_t> fresh_ids(static_cast<size_t>(chunk));
  for (int64_t t = 0; t < chunk; ++t) fresh_ids[size_t(t)] = int32_t((t * 31 + 7) % V);
  for (int64_t i = 0, left = mixed; i < pieces; ++i, left -= chunk) {
    fresh.push_back(m.new_sequence_in(pool));
    if (!fresh.back().kv->reserve(chunk)) throw std::runtime_error("KV pool too small");
    fresh_rows.push_back(std::min(chunk, left));
  }
  // Prefill every sequence once (4 per pass), then each measurement rewinds them to `prompt`.
  {
    std::vector<int32_t> out;
    for (int64_t i = 0; i < maxb; i += 4) {
      std::vector<Transformer::BatchItem> items;
      for (int64_t j = i; j < std::min(maxb, i + 4); ++j) items.push_back({&seqs[size_t(j)], ids[size_t(j)].data(), prompt, true});
      m.forward_batch_greedy(items, out);
    }
    cuda::sync("prefill");
  }
  std::printf("# %s, weights read per step %.3f GB, KV %.0f B/token, %.3f GFLOP/token; bw %.0f GB/s, %.0f TFLOP/s\n",
              model.c_str(), wbytes / 1e9, kv_tok, flop_tok / 1e9, bw_gbs, tflops);
  if (mixed > 0)
    std::printf("# every step also prefills %lld prompt tokens in %lld pieces of <= %lld (batch = decode rows)\n",
                (long long)mixed, (long long)pieces, (long long)chunk);
  std::printf("%-7s %5s %10s %10s %10s %11s %10s %8s\n", "path", "batch", "ms/step", "p10", "p90", "tok/s", "roof ms",
              "of roof");
  for (const std::string& ps : split_commas(paths_s)) {
    cuda::DensePath p = cuda::DensePath::Auto;
    if (ps == "tc") p = cuda::DensePath::TensorCore;
    else if (ps == "cublas") p = cuda::DensePath::Cublas;
    else if (ps == "gemv") p = cuda::DensePath::Gemv;
    else if (ps != "auto") throw std::runtime_error("unknown path " + ps);
    cuda::force_dense_path(p);
    for (int64_t B : batches) {
      if (p == cuda::DensePath::Gemv && B > 8) continue;
      if (p == cuda::DensePath::TensorCore && (B < 2 || B > 64)) continue;
      std::vector<int32_t> tok(static_cast<size_t>(B), 1), out;
      for (int64_t i = 0; i < B; ++i) seqs[size_t(i)].n_past = prompt;
      std::vector<double> ms;
      double ctx_sum = 0;
      cuda::GraphStats st0{};
      for (int s = 0; s < warm + steps; ++s) {
        std::vector<Transformer::BatchItem> items;
        for (int64_t i = 0; i < B; ++i) items.push_back({&seqs[size_t(i)], &tok[size_t(i)], 1, true});
        for (size_t i = 0; i < fresh.size(); ++i) {
          fresh[i].n_past = 0;
          items.push_back({&fresh[i], fresh_ids.data(), fresh_rows[i], true});
        }
        if (s >= warm) ctx_sum += double(seqs[0].n_past + 1);
        // Under Nsight Compute (--profile-from-start off) only the timed steps of --profile-batch are profiled.
        const bool prof = B == profile_batch && s >= warm;
        if (s == warm) st0 = cuda::graph_stats();
        if (prof) (void)cudaProfilerStart();
        const auto t0 = std::chrono::steady_clock::now();
        m.forward_batch_greedy(items, out);
        std::copy(out.begin(), out.begin() + B, tok.begin());
        const double d = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (prof) (void)cudaProfilerStop();
        if (s >= warm) ms.push_back(d);
      }
      const cuda::GraphStats st1 = cuda::graph_stats();
      std::sort(ms.begin(), ms.end());
      const double med = ms[ms.size() / 2], k = double(ms.size());
      const double ctx = ctx_sum / double(steps);
      // Prompt pieces: their rows through the Linears, their last row through the LM head, their keys read.
      const double flops = double(B) * flop_tok + double(mixed) * (flop_tok - flop_head) + double(pieces) * flop_head;
      const double roof_ms = std::max((double(wbytes) + (double(B) * ctx + double(mixed)) * kv_tok) / (bw_gbs * 1e9),
                                      flops / (tflops * 1e12)) * 1e3;
      std::printf("%-7s %5lld %10.3f %10.3f %10.3f %11.1f %10.3f %7.0f%%\n", ps.c_str(), (long long)B, med,
                  ms[size_t(0.1 * k)], ms[std::min(ms.size() - 1, size_t(0.9 * k))], double(B) / med * 1e3, roof_ms,
                  100.0 * roof_ms / med);
      // Host time building a step's queue (the GPU idles meanwhile), and how the steps ran.
      std::printf("        host build %.3f ms/step, %.0f launches/step, %llu graph replays, %llu direct runs\n",
                  double(st1.build_ns - st0.build_ns) / k / 1e6, double(st1.launched() - st0.launched()) / k,
                  (unsigned long long)(st1.graph_launches - st0.graph_launches),
                  (unsigned long long)(st1.direct_runs - st0.direct_runs));
      std::fflush(stdout);
    }
  }
  cuda::force_dense_path(cuda::DensePath::Auto);
  const cuda::GemmTuneStats ts = cuda::gemm_tune_stats();
  std::printf("GEMM tuning (warm-up steps): %llu shapes timed, %llu changed from cuBLASLt's first choice, %.1f ms; "
              "%llu GEMMs ran tuned, %llu counts rejected by the check\n",
              (unsigned long long)ts.tuned, (unsigned long long)ts.changed, ts.tuning_ms,
              (unsigned long long)ts.tuned_calls, (unsigned long long)ts.rejected);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_cuda_batch_decode: %s\n", e.what());
  return 1;
}
