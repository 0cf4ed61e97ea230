// Transformer::decode_greedy on the CPU (the synchronous loop): the tokens of forward_batch_greedy, and a stop
// leaves the sequence at the tokens fed (tests/support/decode_greedy_check.h; the pipelined GPU path is
// tests/cuda_decode_greedy_test.cpp).
#include <catch2/catch.hpp>

#include "tests/support/decode_greedy_check.h"
#include "tests/support/synthetic_engine.h"

using namespace qbench;
using namespace qbench::test;

TEST_CASE("decode_greedy on the cpu equals one greedy step at a time and stops where asked", "[model]") {
  auto e = synthetic_engine("tiny", "decode-greedy", 11, 0.5f);
  REQUIRE_FALSE(e->model().decode_pipelined());  // the CPU has nothing to overlap
  check_decode_greedy(e->model(), {3, 17, 250, 9, 4, 77}, 12, KvType::F32);
}

TEST_CASE("decode_greedy rejects a token outside the vocabulary", "[model]") {
  auto e = synthetic_engine("tiny", "decode-greedy-bad", 3, 0.5f);
  Sequence s = e->model().new_sequence(8, KvType::F32);
  CHECK_THROWS_WITH(e->model().decode_greedy(s, int32_t(e->config().vocab_size), 2, [](int32_t) { return true; }),
                    Catch::Contains("outside the vocabulary"));
  CHECK(s.n_past == 0);
}
