#include "workloads/latency.h"

#include <optional>

#include "datasets/prompts/bundled_text.h"
#include "engines/core/error.h"
#include "engines/registry/registry.h"
#include "harness/measure/clock.h"
#include "harness/measure/perf_counters.h"
#include "harness/measure/process_memory.h"
#include "workloads/progress.h"

namespace qbench {

nlohmann::json LatencyParams::to_json() const {
  return {{"prompt_tokens", prompt_tokens}, {"gen_tokens", gen_tokens}, {"reps", reps},
          {"warmup", warmup}, {"stop_at_eos", stop_at_eos}, {"kv_type", kv_type_name(kv_type)},
          {"batch", 1}, {"temperature", sampling.temperature}, {"top_p", sampling.top_p}, {"seed", sampling.seed}};
}

namespace {

// One generation: prefill the prompt, then decode until gen_tokens (or EOS when asked).
LatencyRun generate_once(Engine& e, const std::vector<int32_t>& prompt, const LatencyParams& p, uint64_t seed,
                         PerfCounters* pc, nlohmann::json* counters, Progress& prog, const std::string& label) {
  Transformer& m = e.model();
  const int64_t V = m.config().vocab_size;
  Sequence seq = m.new_sequence(int64_t(prompt.size()) + p.gen_tokens, p.kv_type);
  SamplerParams sp = p.sampling;
  sp.seed = seed;
  Sampler sampler(sp);
  std::vector<float> logits;
  LatencyRun r;

  if (pc) pc->start();
  const auto t0 = Clock::now();
  m.forward(seq, prompt.data(), int64_t(prompt.size()), LogitsMode::Last, logits);
  int32_t tok = sampler.sample(logits.data(), V);
  r.ttft_ms = seconds_since(t0) * 1e3;
  if (pc) {
    pc->stop();
    (*counters)["prefill"] = pc->to_json();
    pc->start();
  }
  r.tokens.push_back(tok);
  const int64_t eos = m.config().eos_token_id;
  auto tp = Clock::now();
  auto record = [&](int32_t t) {  // one more token has reached the host
    const auto now = Clock::now();
    r.itl_ms.push_back(std::chrono::duration<double, std::milli>(now - tp).count());
    tp = now;
    r.tokens.push_back(t);
    prog.update(label, int64_t(r.tokens.size()), p.gen_tokens);
    return !(p.stop_at_eos && t == eos);
  };
  if (!(p.stop_at_eos && tok == eos)) {
    if (sp.greedy()) {
      // Greedy decode picks the token where the logits are (a GPU returns the id, not 152k logits for a host
      // argmax: H100, 7B, TPOT GPTQ 3.38 -> 2.87 ms, FP16 5.94 -> 5.63 ms) and, on a GPU, queues the next step
      // before this one's id is read, so the host's work per step hides behind the device's
      // (engines/model/decode_greedy.cpp). The ids are argmax()'s, as the synchronous loop's.
      m.decode_greedy(seq, tok, p.gen_tokens - int64_t(r.tokens.size()), record);
    } else {
      while (int64_t(r.tokens.size()) < p.gen_tokens) {
        m.forward(seq, &tok, 1, LogitsMode::Last, logits);
        tok = sampler.sample(logits.data(), V);
        if (!record(tok)) break;
      }
    }
  }
  r.total_s = seconds_since(t0);
  if (pc) {
    pc->stop();
    (*counters)["decode"] = pc->to_json();
  }
  r.generated = int64_t(r.tokens.size());
  r.prefill_tokens_per_s = double(prompt.size()) / (r.ttft_ms / 1e3);
  const double decode_s = r.total_s - r.ttft_ms / 1e3;
  r.decode_tokens_per_s = r.generated > 1 && decode_s > 0 ? double(r.generated - 1) / decode_s : 0.0;
  return r;
}

}  // namespace

LatencyResult run_latency(Engine& engine, const LatencyParams& p) {
  if (p.prompt_tokens <= 0 || p.gen_tokens <= 0) throw Error("prompt and generation lengths must be positive");
  if (p.reps <= 0 || p.warmup < 0) throw Error("reps must be >= 1 and warmup >= 0");
  const auto& cfg = engine.config();
  if (p.prompt_tokens + p.gen_tokens > cfg.max_position_embeddings)
    throw Error("prompt + generation (" + std::to_string(p.prompt_tokens + p.gen_tokens) +
                " tokens) exceeds the model's context (" + std::to_string(cfg.max_position_embeddings) + ")");
  LatencyResult res;
  res.params = p;
  std::vector<int32_t> prompt;
  if (engine.has_tokenizer()) {
    prompt = build_prompt_tokens(engine.tokenizer(), p.prompt_tokens);
    res.prompt_source = "bundled-text";
  } else {
    prompt = build_random_prompt_tokens(p.prompt_tokens, cfg.vocab_size, 1);
    res.prompt_source = "random-ids";
  }
  res.decode_loop = p.sampling.greedy() && engine.model().decode_pipelined() ? "pipelined" : "synchronous";

  std::optional<PerfCounters> pc;
  if (p.counters) pc.emplace();
  Progress prog(p.progress);
  reset_peak_rss();
  const int total = p.warmup + p.reps;
  for (int i = 0; i < total; ++i) {
    const bool warm = i < p.warmup;
    const std::string label = warm ? "warm-up " + std::to_string(i + 1) + "/" + std::to_string(p.warmup)
                                   : "run " + std::to_string(i - p.warmup + 1) + "/" + std::to_string(p.reps);
    nlohmann::json counters;
    LatencyRun r = generate_once(engine, prompt, p, p.sampling.seed + uint64_t(i), warm || !pc ? nullptr : &*pc,
                                 &counters, prog, label);
    if (!warm) {
      res.runs.push_back(std::move(r));
      res.counters = counters;
    }
  }
  prog.finish();
  const ProcessMemory pm = read_process_memory();
  res.memory = {{"engine_peak", engine.model().memory().peak().to_json()},
                {"process_rss_bytes", pm.rss_bytes},
                {"process_peak_rss_bytes", pm.peak_rss_bytes}};
  if (engine.info().device != "cpu") {
    // VRAM three ways: the engine's accounting, the device's free-memory delta since before load, and NVML's per-process figure.
    nlohmann::json dm = {{"engine_current", engine.model().memory().current().to_json()},
                         {"now", device_memory_report(engine.info().device)}};
    if (engine.info().details.contains("cuda")) dm["load"] = engine.info().details["cuda"];
    res.memory["device_memory"] = dm;
  }
  return res;
}

nlohmann::json LatencyResult::to_json() const {
  std::vector<double> ttft, tpot, itl, dec, pre;
  nlohmann::json runs_j = nlohmann::json::array();
  for (auto& r : runs) {
    ttft.push_back(r.ttft_ms);
    dec.push_back(r.decode_tokens_per_s);
    pre.push_back(r.prefill_tokens_per_s);
    double s = 0;
    for (double v : r.itl_ms) s += v;
    if (!r.itl_ms.empty()) tpot.push_back(s / double(r.itl_ms.size()));
    itl.insert(itl.end(), r.itl_ms.begin(), r.itl_ms.end());
    nlohmann::json rj = {{"ttft_ms", r.ttft_ms}, {"generated", r.generated}, {"total_s", r.total_s},
                         {"prefill_tokens_per_s", r.prefill_tokens_per_s}, {"decode_tokens_per_s", r.decode_tokens_per_s},
                         {"itl_ms", summarize(r.itl_ms.empty() ? std::vector<double>{0.0} : r.itl_ms).to_json()},
                         {"tokens_head", std::vector<int32_t>(r.tokens.begin(), r.tokens.begin() + std::min<size_t>(16, r.tokens.size()))}};
    runs_j.push_back(rj);
  }
  nlohmann::json s = {{"ttft_ms", summarize(ttft).to_json()},
                      {"prefill_tokens_per_s", summarize(pre).to_json()},
                      {"decode_tokens_per_s", summarize(dec).to_json()}};
  if (!tpot.empty()) s["tpot_ms"] = summarize(tpot).to_json();
  if (!itl.empty()) s["itl_ms"] = summarize(itl).to_json();
  return {{"workload", "latency"}, {"params", params.to_json()}, {"prompt_source", prompt_source},
          {"decode_loop", decode_loop},
          {"summary", s}, {"runs", runs_j}, {"memory", memory}, {"counters", counters}};
}

}  // namespace qbench
