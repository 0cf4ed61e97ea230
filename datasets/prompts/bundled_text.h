#pragma once
// Text shipped with qbench to build prompts of an exact token count, so the
// latency workload needs no dataset download. Written for qbench (no licence strings attached).
#include <cstdint>
#include <string_view>
#include <vector>

#include "datasets/tokenizer/tokenizer.h"

namespace qbench {

std::string_view bundled_prompt_text();

// Exactly n token ids: the bundled text tokenized, repeated as often as
// needed, cut at n. Special tokens never appear.
std::vector<int32_t> build_prompt_tokens(const Tokenizer& tok, int64_t n);

// Without a tokenizer: n deterministic ids in [0, vocab_limit).
std::vector<int32_t> build_random_prompt_tokens(int64_t n, int64_t vocab_limit, uint64_t seed);

}  // namespace qbench
