// The latency workload's generations: greedy decode takes its tokens from the
// engine's device-side argmax (forward_batch_greedy), which must give the ids
// a plain forward + argmax over the downloaded logits gives.
#include <catch2/catch.hpp>

#include "datasets/prompts/bundled_text.h"
#include "engines/formats/synthetic_checkpoint.h"
#include "engines/model/sampler.h"
#include "engines/model/shape_catalog.h"
#include "engines/registry/registry.h"
#include "tests/support/synthetic_engine.h"
#include "tests/support/test_paths.h"
#include "workloads/latency.h"

using namespace qbench;
using namespace qbench::test;

TEST_CASE("latency workload: greedy tokens equal forward + argmax; sampled runs follow their seed", "[latency]") {
  const ModelConfig cfg = shape_config("tiny");
  auto e = synthetic_engine("tiny", "latency-greedy", 5, 0.5f);
  REQUIRE_FALSE(e->has_tokenizer());  // random-id prompt, rebuilt below

  LatencyParams p;
  p.prompt_tokens = 24;
  p.gen_tokens = 12;
  p.reps = 2;
  p.warmup = 0;
  p.counters = false;
  p.progress = false;
  p.kv_type = KvType::F32;
  const LatencyResult greedy = run_latency(*e, p);
  REQUIRE(greedy.runs.size() == 2);

  // The same generation by hand: forward() and argmax() over the logits.
  const std::vector<int32_t> prompt = build_random_prompt_tokens(p.prompt_tokens, cfg.vocab_size, 1);
  Transformer& m = e->model();
  Sequence s = m.new_sequence(p.prompt_tokens + p.gen_tokens, KvType::F32);
  std::vector<float> logits;
  m.forward(s, prompt.data(), int64_t(prompt.size()), LogitsMode::Last, logits);
  std::vector<int32_t> want = {argmax(logits.data(), cfg.vocab_size)};
  while (int64_t(want.size()) < p.gen_tokens) {
    m.forward(s, &want.back(), 1, LogitsMode::Last, logits);
    want.push_back(argmax(logits.data(), cfg.vocab_size));
  }
  for (const LatencyRun& r : greedy.runs) {
    CHECK(r.generated == p.gen_tokens);
    CHECK(r.tokens == want);
    CHECK(int64_t(r.itl_ms.size()) == p.gen_tokens - 1);
  }

  // Sampling (host path): runs with the same seeds repeat their tokens.
  p.sampling.temperature = 1.0f;
  p.sampling.seed = 7;
  const LatencyResult a = run_latency(*e, p), b = run_latency(*e, p);
  for (size_t i = 0; i < a.runs.size(); ++i) CHECK(a.runs[i].tokens == b.runs[i].tokens);
}
