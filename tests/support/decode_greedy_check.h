#pragma once
// What Transformer::decode_greedy must do on any device (tests/decode_greedy_test.cpp on the CPU,
// tests/cuda_decode_greedy_test.cpp pipelined on a GPU): the tokens of forward_batch_greedy one step at a time,
// and after a stop (on_token returning false) the sequence holds exactly the tokens fed, so decoding on from
// there continues the same greedy sequence.
#include <catch2/catch.hpp>

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "engines/model/transformer.h"

namespace qbench::test {

inline void check_decode_greedy(Transformer& m, const std::vector<int32_t>& prompt, int64_t steps, KvType kv) {
  const int64_t P = int64_t(prompt.size());
  auto prefill = [&](Sequence& s) {
    std::vector<int32_t> first;
    m.forward_batch_greedy({{&s, prompt.data(), P, true}}, first);
    return first[0];
  };
  // Reference: one synchronous step at a time.
  std::vector<int32_t> want;
  {
    Sequence s = m.new_sequence(P + steps + 1, kv);
    int32_t t = prefill(s);
    std::vector<int32_t> next;
    for (int64_t i = 0; i < steps; ++i) {
      m.forward_batch_greedy({{&s, &t, 1, true}}, next);
      t = next[0];
      want.push_back(t);
    }
  }
  // All steps in one call.
  {
    Sequence s = m.new_sequence(P + steps + 1, kv);
    const int32_t first = prefill(s);
    std::vector<int32_t> got;
    m.decode_greedy(s, first, steps, [&](int32_t t) { got.push_back(t); return true; });
    CHECK(got == want);
    CHECK(s.n_past == P + steps);
  }
  // Stopped after k tokens (a step already queued behind the stop is given back), then decoded on.
  const int64_t k = steps / 3;
  {
    Sequence s = m.new_sequence(P + steps + 1, kv);
    const int32_t first = prefill(s);
    std::vector<int32_t> got;
    m.decode_greedy(s, first, steps, [&](int32_t t) { got.push_back(t); return int64_t(got.size()) < k; });
    REQUIRE(int64_t(got.size()) == k);
    CHECK(s.n_past == P + k);
    m.decode_greedy(s, got.back(), steps - k, [&](int32_t t) { got.push_back(t); return true; });
    CHECK(got == want);
    CHECK(s.n_past == P + steps);
  }
  // on_token throwing after k tokens: the same state as a stop there, and decoding goes on from it.
  {
    Sequence s = m.new_sequence(P + steps + 1, kv);
    const int32_t first = prefill(s);
    std::vector<int32_t> got;
    CHECK_THROWS_WITH(m.decode_greedy(s, first, steps,
                                      [&](int32_t t) {
                                        got.push_back(t);
                                        if (int64_t(got.size()) == k) throw std::runtime_error("caller stops");
                                        return true;
                                      }),
                      "caller stops");
    REQUIRE(int64_t(got.size()) == k);
    CHECK(s.n_past == P + k);
    m.decode_greedy(s, got.back(), steps - k, [&](int32_t t) { got.push_back(t); return true; });
    CHECK(got == want);
  }
}

}  // namespace qbench::test
