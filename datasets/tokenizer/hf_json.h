#pragma once
// Reading Hugging Face tokenizer.json files into a TokenizerSpec.
#include <string>

#include "datasets/tokenizer/tokenizer_spec.h"

namespace qbench::tok {

// Accepts byte-level BPE tokenizers: model BPE; normalizer null, NFC/NFD/NFKC/NFKD or a Sequence of them;
// pre-tokenizer ByteLevel, optionally after one regex Split (behavior Isolated). Anything else, malformed
// JSON or missing model.vocab/model.merges throws std::runtime_error naming `where`.
TokenizerSpec parse_hf_tokenizer_json(const std::string& text, const std::string& where);

}  // namespace qbench::tok
