#include "workloads/throughput.h"

#include <algorithm>
#include <thread>

#include "datasets/prompts/bundled_text.h"
#include "engines/core/env_flag.h"
#include "engines/core/error.h"
#include "harness/measure/clock.h"
#include "harness/measure/gpu_utilization.h"
#include "harness/measure/process_memory.h"
#include "harness/measure/stats.h"
#include "workloads/progress.h"

namespace qbench {

nlohmann::json ThroughputParams::to_json() const {
  return {{"requests", requests}, {"requests_per_concurrency", requests_per_concurrency}, {"concurrency", concurrency}, {"rate", rate},
          {"prompt_tokens", prompt_tokens.to_string()}, {"gen_tokens", gen_tokens.to_string()},
          {"max_num_seqs", limits.max_num_seqs}, {"max_batched_tokens", limits.max_batched_tokens},
          {"prefill_chunk", limits.prefill_chunk}, {"kv_tokens", kv_tokens}, {"kv_block_tokens", kv_block_tokens},
          {"kv_type", kv_type_name(kv_type)}, {"temperature", sampling.temperature}, {"seed", seed},
          {"util_period_ms", util_period_ms},
          {"scheduler", "continuous batching, FCFS, whole-request KV reservation at admission"}};
}

namespace {

struct Timing {
  double arrival = -1, first = -1, finish = -1, last = -1;
  std::vector<double> itl_ms;
  int64_t prompt = 0, gen = 0;
};

nlohmann::json summarize_or_null(const std::vector<double>& v) {
  return v.empty() ? nlohmann::json(nullptr) : summarize(v).to_json();
}

// NVML utilisation of the engine's GPU (by PCI bus id when the CUDA backend reported one).
std::unique_ptr<UtilSource> gpu_util_source(const Engine& engine, std::string* why) {
  if (engine.info().device != "cuda") {
    *why = engine.info().device + " device: no GPU to sample";
    return nullptr;
  }
  std::string bus;
  const nlohmann::json& d = engine.info().details;
  if (d.contains("cuda") && d["cuda"].contains("gpu") && d["cuda"]["gpu"].contains("pci_bus_id"))
    bus = d["cuda"]["gpu"]["pci_bus_id"].get<std::string>();
  return open_nvml_utilization(bus, why);
}

// One point of the curve: concurrency > 0 (closed loop) or rate > 0 (open loop).
nlohmann::json run_point(Engine& engine, const ThroughputParams& p, int64_t concurrency, double rate,
                         const std::vector<int32_t>& text_ids, Progress& prog) {
  Transformer& m = engine.model();
  const int64_t n_req = concurrency > 0 && p.requests_per_concurrency > 0
                            ? std::min(p.requests, p.requests_per_concurrency * concurrency)
                            : p.requests;
  const auto reqs = make_requests(n_req, p.prompt_tokens, p.gen_tokens, rate, p.seed);
  int64_t longest = 0;
  for (auto& r : reqs) longest = std::max(longest, r.prompt_tokens + r.gen_tokens);
  if (longest > m.config().max_position_embeddings)
    throw Error("a request of " + std::to_string(longest) + " tokens exceeds the model's context");
  const int64_t slots = concurrency > 0 ? std::min(concurrency, p.limits.max_num_seqs) : p.limits.max_num_seqs;
  const int64_t kv_tokens = p.kv_tokens > 0 ? p.kv_tokens : slots * longest;
  auto pool = m.new_kv_pool(kv_tokens, p.kv_type, p.kv_block_tokens);
  BatchScheduler sched(m, pool, p.limits, p.sampling);

  // Prompts: windows of the bundled text at different offsets, so requests differ.
  auto prompt_of = [&](const RequestSpec& r) {
    std::vector<int32_t> ids(static_cast<size_t>(r.prompt_tokens));
    for (int64_t i = 0; i < r.prompt_tokens; ++i)
      ids[size_t(i)] = text_ids[size_t((r.id * 37 + i) % int64_t(text_ids.size()))];
    return ids;
  };

  std::vector<Timing> t(reqs.size());
  nlohmann::json kv_usage = nlohmann::json::array();
  size_t next = 0;
  int64_t in_flight = 0, done = 0, steps = 0, batch_tokens = 0, decode_steps = 0, decode_rows = 0, decode_context = 0;
  std::string util_why;
  auto util_src = gpu_util_source(engine, &util_why);
  std::unique_ptr<UtilSampler> util;
  if (util_src) {
    util = std::make_unique<UtilSampler>(std::move(util_src), p.util_period_ms);
    util->start();
  }
  const auto t0 = Clock::now();
  while (done < int64_t(reqs.size())) {
    const double now = seconds_since(t0);
    while (next < reqs.size() && (concurrency > 0 ? in_flight < concurrency : reqs[next].arrival_s <= now)) {
      const RequestSpec& r = reqs[next];
      t[size_t(r.id)].arrival = concurrency > 0 ? now : r.arrival_s;
      t[size_t(r.id)].prompt = r.prompt_tokens;
      sched.submit(r.id, prompt_of(r), r.gen_tokens);
      ++in_flight;
      ++next;
    }
    if (sched.idle()) {  // open loop, nothing arrived yet
      std::this_thread::sleep_for(std::chrono::duration<double>(std::max(0.0, reqs[next].arrival_s - now)));
      continue;
    }
    const auto events = sched.step();
    const double ts = seconds_since(t0);
    ++steps;
    batch_tokens += sched.last_batch_tokens();
    if (sched.last_decode_rows() > 0) {
      ++decode_steps;
      decode_rows += sched.last_decode_rows();
      decode_context += sched.last_decode_context();
    }
    for (auto& e : events) {
      Timing& q = t[size_t(e.id)];
      if (e.first) q.first = ts;
      else q.itl_ms.push_back((ts - q.last) * 1e3);
      q.last = ts;
      ++q.gen;
      if (e.finished) {
        q.finish = ts;
        --in_flight;
        ++done;
      }
    }
    if (kv_usage.size() < 4000)
      kv_usage.push_back({{"t_s", ts}, {"used_blocks", pool->total_blocks() - pool->free_blocks()},
                          {"running", sched.running()}, {"waiting", sched.waiting()}});
    prog.update(concurrency > 0 ? "concurrency " + std::to_string(concurrency) : "rate " + std::to_string(rate), done,
                int64_t(reqs.size()));
  }
  const double duration = seconds_since(t0);
  const nlohmann::json gpu_util = util ? util->stop() : utilization_unavailable(util_why);

  std::vector<double> ttft, tpot, itl, e2e;
  int64_t out_tokens = 0, in_tokens = 0;
  nlohmann::json per_req = nlohmann::json::array();
  for (auto& q : t) {
    ttft.push_back((q.first - q.arrival) * 1e3);
    e2e.push_back((q.finish - q.arrival) * 1e3);
    if (q.gen > 1) tpot.push_back((q.finish - q.first) * 1e3 / double(q.gen - 1));
    itl.insert(itl.end(), q.itl_ms.begin(), q.itl_ms.end());
    out_tokens += q.gen;
    in_tokens += q.prompt;
    per_req.push_back({{"prompt_tokens", q.prompt}, {"gen_tokens", q.gen}, {"arrival_s", q.arrival},
                       {"ttft_ms", (q.first - q.arrival) * 1e3}, {"e2e_ms", (q.finish - q.arrival) * 1e3}});
  }
  nlohmann::json summary = {{"duration_s", duration},
                            {"request_throughput_per_s", double(reqs.size()) / duration},
                            {"output_tokens_per_s", double(out_tokens) / duration},
                            {"total_tokens_per_s", double(out_tokens + in_tokens) / duration},
                            {"requests_per_day", double(reqs.size()) / duration * 86400.0},
                            {"ttft_ms", summarize_or_null(ttft)},
                            {"tpot_ms", summarize_or_null(tpot)},
                            {"itl_ms", summarize_or_null(itl)},
                            {"e2e_ms", summarize_or_null(e2e)},
                            {"steps", steps},
                            {"mean_batch_tokens", steps ? double(batch_tokens) / double(steps) : 0.0},
                            // Decode steps (steps with at least one decode row): their mean batch and the mean
                            // length each decode row attends over, for the step roofline (docs/workloads.md).
                            {"decode_steps", decode_steps},
                            {"mean_decode_batch", decode_steps ? double(decode_rows) / double(decode_steps) : 0.0},
                            {"mean_decode_context", decode_rows ? double(decode_context) / double(decode_rows) : 0.0}};
  return {{"concurrency", concurrency > 0 ? nlohmann::json(concurrency) : nlohmann::json(nullptr)},
          {"n_requests", n_req},
          {"rate", rate > 0 ? nlohmann::json(rate) : nlohmann::json(nullptr)},
          {"kv_pool", {{"tokens", pool->total_blocks() * pool->block_tokens()}, {"blocks", pool->total_blocks()},
                       {"block_tokens", pool->block_tokens()}, {"bytes", pool->bytes()}}},
          {"summary", summary},
          {"kv_usage", kv_usage},
          {"requests", per_req},
          {"gpu_utilization", gpu_util}};
}

}  // namespace

nlohmann::json run_throughput(Engine& engine, const ThroughputParams& p) {
  if (p.concurrency.empty() == p.rate.empty()) throw Error("give --concurrency or --rate (or --sweep over one of them)");
  for (auto c : p.concurrency)
    if (c <= 0) throw Error("concurrency must be positive");
  for (auto r : p.rate)
    if (!(r > 0)) throw Error("rate must be positive");
  const std::vector<int32_t> text = engine.has_tokenizer()
                                        ? build_prompt_tokens(engine.tokenizer(), 4096)
                                        : build_random_prompt_tokens(4096, engine.config().vocab_size, 1);
  // Warm-up: one short request faults the weights in and sizes the buffers; then short requests as many
  // as the widest point decodes at once, with output lengths staggered so that one decode step of every
  // width (widest, widest - 1, ..., 1 rows) runs. One-time work per width (the CUDA engine's GEMM tuning and
  // its check, gemm_tuner.h) is paid here, not inside a measured point.
  {
    int64_t widest = p.limits.max_num_seqs;
    if (!p.concurrency.empty())
      widest = std::min(widest, *std::max_element(p.concurrency.begin(), p.concurrency.end()));
    widest = std::min<int64_t>(widest, 128);  // wider steps are prefill-sized: nothing per width to warm
    // QBENCH_THROUGHPUT_WARMUP=single: only the first request (A/B measurements of this warm-up).
    if (env_equals("QBENCH_THROUGHPUT_WARMUP", "single")) widest = 1;
    constexpr int64_t kWarmPrompt = 8;
    auto pool = engine.model().new_kv_pool(std::max<int64_t>(128, widest * (kWarmPrompt + widest + 4)), p.kv_type,
                                           p.kv_block_tokens);
    BatchScheduler warm(engine.model(), pool, p.limits, p.sampling);
    warm.submit(0, std::vector<int32_t>(text.begin(), text.begin() + 64), 4);
    while (!warm.idle()) warm.step();
    for (int64_t i = 0; widest > 1 && i < widest; ++i) {
      const auto from = text.begin() + (i * kWarmPrompt) % int64_t(text.size() - kWarmPrompt);
      warm.submit(1 + i, std::vector<int32_t>(from, from + kWarmPrompt), 2 + i);
    }
    while (!warm.idle()) warm.step();
  }
  Progress prog(p.progress);
  nlohmann::json points = nlohmann::json::array();
  for (auto c : p.concurrency) points.push_back(run_point(engine, p, c, 0.0, text, prog));
  for (auto r : p.rate) points.push_back(run_point(engine, p, 0, r, text, prog));
  prog.finish();
  const ProcessMemory pm = read_process_memory();
  nlohmann::json out = {{"workload", "throughput"},
                        {"params", p.to_json()},
                        {"points", points},
                        {"memory", {{"engine_peak", engine.model().memory().peak().to_json()},
                                    {"process_peak_rss_bytes", pm.peak_rss_bytes}}}};
  if (points.size() == 1) out["summary"] = points[0]["summary"];
  return out;
}

}  // namespace qbench
