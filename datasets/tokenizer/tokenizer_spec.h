#pragma once
// The file-format-neutral description of a byte-level BPE tokenizer: tokenizer.json and GGUF metadata are
// both turned into one of these, so that one builder (tokenizer.cpp) serves both.
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "datasets/tokenizer/added_tokens.h"
#include "datasets/tokenizer/normalizer.h"

namespace qbench {

struct TokenizerSpec {
  std::string source;  // file or origin, named in error messages
  std::unordered_map<std::string, int32_t> vocab;           // byte-level token string -> id
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  bool ignore_merges = false;  // a pre-token that is itself in the vocab maps straight to its id
  std::vector<tok::AddedToken> added_tokens;
  tok::Normalizer normalizer;
  std::optional<std::string> split_pattern;  // Split pre-tokenizer regex (Isolated); none: whole segments
  int32_t min_vocab_size = 0;  // ids below this exist even without a token (GGUF's unused slots)
};

}  // namespace qbench
