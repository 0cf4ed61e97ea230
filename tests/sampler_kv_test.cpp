#include <catch2/catch.hpp>

#include <map>

#include "engines/core/error.h"
#include "engines/model/kv_cache.h"
#include "engines/model/sampler.h"

using namespace qbench;

TEST_CASE("greedy sampling takes the lowest id among equal maxima", "[sampler]") {
  const float l[5] = {0.f, 2.f, -1.f, 2.f, 1.f};
  Sampler s({});
  CHECK(s.sample(l, 5) == 1);
  CHECK(argmax(l, 5) == 1);
}

TEST_CASE("temperature sampling is reproducible for a seed and respects top-p", "[sampler]") {
  std::vector<float> l = {3.f, 2.9f, 0.f, -5.f, -5.f, -5.f};
  auto draw = [&](uint64_t seed, float top_p) {
    Sampler s({1.0f, top_p, seed});
    std::vector<int32_t> out;
    for (int i = 0; i < 200; ++i) out.push_back(s.sample(l.data(), int64_t(l.size())));
    return out;
  };
  CHECK(draw(42, 1.f) == draw(42, 1.f));
  CHECK(draw(42, 1.f) != draw(43, 1.f));
  // p(0) ~ 0.51, p(1) ~ 0.46: top_p 0.5 keeps only id 0; 0.9 keeps ids 0 and 1.
  for (int32_t t : draw(1, 0.5f)) CHECK(t == 0);
  std::map<int32_t, int> seen;
  for (int32_t t : draw(1, 0.9f)) seen[t]++;
  CHECK(seen.size() == 2);
  CHECK(seen.count(0));
  CHECK(seen.count(1));
  CHECK_THROWS_AS(Sampler({-1.f, 1.f, 0}), Error);
  CHECK_THROWS_AS(Sampler({1.f, 0.f, 0}), Error);
}

TEST_CASE("KV cache sizes and accounting", "[kv]") {
  MemoryAccount acc;
  {
    KvCache kv(28, 100, 4, 128, KvType::F16, &acc);
    // Qwen2.5-7B: 28 layers x 2 x 4 kv heads x 128 x 2 bytes = 56 KiB per token.
    CHECK(KvCache::bytes_per_token(28, 4, 128, KvType::F16) == 56 * 1024);
    CHECK(kv.bytes() == 100ull * 56 * 1024);
    CHECK(acc.current().kv_cache == kv.bytes());
  }
  CHECK(acc.current().kv_cache == 0);
  CHECK(acc.peak().kv_cache == 100ull * 56 * 1024);
  CHECK_THROWS_AS(parse_kv_type("q4"), Error);
}
