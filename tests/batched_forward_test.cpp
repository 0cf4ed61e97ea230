// Batched forward (several sequences, own positions, shared paged KV pool)
// gives the same logits and greedy tokens as running each sequence alone.
#include <catch2/catch.hpp>

#include "engines/model/sampler.h"
#include "engines/registry/registry.h"
#include "tests/support/greedy_alone.h"
#include "tests/support/reference_fixture.h"
#include "tests/support/test_paths.h"

using namespace qbench;
using namespace qbench::test;

TEST_CASE("batched decode equals single-sequence decode (greedy, tiny fixture)", "[batch][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/hf-fp16/model.safetensors")) return;
  LoadOptions lo;
  lo.path = tiny_fixture_dir() + "/hf-fp16";
  auto e = load_engine(lo);
  Transformer& m = e->model();
  const int64_t V = m.config().vocab_size;
  std::vector<std::vector<int32_t>> prompts;
  for (auto& s : reference_sequences())
    if (s.name == "rand7" || s.name == "text_en" || s.name == "rand32" || s.name == "text_zh") prompts.push_back(s.ids);
  const int steps = 12;

  // Alone: each prompt, then greedy decode.
  const GreedyAlone ref = greedy_alone(m, prompts, steps, KvType::F32);
  const auto& alone = ref.tokens;
  const auto& alone_logits = ref.logits;

  // Together: one pool with small blocks (so sequences interleave blocks), prompts prefilled in
  // one mixed pass, then every decode step as one batch.
  auto pool = m.new_kv_pool(512, KvType::F32, 8);
  std::vector<Sequence> seqs;
  for (size_t i = 0; i < prompts.size(); ++i) seqs.push_back(m.new_sequence_in(pool));
  std::vector<Transformer::BatchItem> items;
  for (size_t i = 0; i < prompts.size(); ++i) items.push_back({&seqs[i], prompts[i].data(), int64_t(prompts[i].size()), true});
  std::vector<float> lg;
  m.forward_batch(items, lg);
  std::vector<std::vector<int32_t>> together(prompts.size());
  std::vector<int32_t> next(prompts.size());
  double worst = 0;
  for (int t = 0; t < steps; ++t) {
    for (size_t i = 0; i < prompts.size(); ++i) {
      worst = std::max(worst, max_abs_diff(lg.data() + i * V, alone_logits[i][size_t(t)].data(), V));
      next[i] = argmax(lg.data() + i * V, V);
      together[i].push_back(next[i]);
    }
    items.clear();
    for (size_t i = 0; i < prompts.size(); ++i) items.push_back({&seqs[i], &next[i], 1, true});
    m.forward_batch(items, lg);
  }
  INFO("worst logit difference batched vs alone: " << worst);
  CHECK(worst <= 1e-4);
  CHECK(together == alone);
}

TEST_CASE("a batch that does not fit the KV pool is refused with a clear error", "[batch]") {
  if (!require_shared("fixtures/tiny-qwen2/hf-fp16/model.safetensors")) return;
  LoadOptions lo;
  lo.path = tiny_fixture_dir() + "/hf-fp16";
  auto e = load_engine(lo);
  auto pool = e->model().new_kv_pool(16, KvType::F16, 8);
  Sequence s = e->model().new_sequence_in(pool);
  std::vector<int32_t> ids(20, 5);
  std::vector<float> lg;
  std::vector<Transformer::BatchItem> items = {{&s, ids.data(), 20, true}};
  CHECK_THROWS_WITH(e->model().forward_batch(items, lg), Catch::Contains("no room"));
  CHECK(s.n_past == 0);
  CHECK(pool->free_blocks() == 2);
}
