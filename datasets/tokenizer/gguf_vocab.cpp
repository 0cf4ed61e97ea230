// Tokenizer::from_vocab: the "gpt2" tokenizer model of GGUF files (tokenizer.ggml.tokens/merges/token_type/pre).
#include <stdexcept>

#include "datasets/tokenizer/pretokenizer.h"
#include "datasets/tokenizer/tokenizer.h"
#include "datasets/tokenizer/tokenizer_spec.h"

namespace qbench {
namespace {

// llama.cpp's token types (llama_token_type).
constexpr int32_t kTypeControl = 3;
constexpr int32_t kTypeUserDefined = 4;
constexpr int32_t kTypeUnused = 5;

// What the Hugging Face tokenizer.json of each pre-tokenizer family does, since GGUF only names the family.
struct PreFamily {
  const char* pattern;
  bool nfc;            // Qwen2's tokenizer.json normalizes with NFC; llama.cpp itself skips this
  bool ignore_merges;  // Llama 3's tokenizer.json sets it
};

PreFamily family_for(const std::string& pre) {
  if (pre == "qwen2" || pre == "deepseek-r1-qwen") return {tok::kQwen2SplitPattern, true, false};
  if (pre == "llama-bpe" || pre == "llama3" || pre == "smaug-bpe") return {tok::kLlama3SplitPattern, false, true};
  if (pre == "gpt2" || pre == "gpt-2") return {tok::kGpt2SplitPattern, false, false};
  throw std::runtime_error("tokenizer: GGUF vocabulary: unsupported tokenizer.ggml.pre \"" + pre +
                           "\" (supported: qwen2, deepseek-r1-qwen, llama-bpe, llama3, smaug-bpe, gpt2)");
}

}  // namespace

Tokenizer Tokenizer::from_vocab(const std::vector<std::string>& tokens, const std::vector<std::string>& merges,
                                const std::vector<int32_t>& token_types, const std::string& pre) {
  TokenizerSpec spec;
  spec.source = "GGUF vocabulary (pre \"" + pre + "\")";
  if (!token_types.empty() && token_types.size() != tokens.size())
    throw std::runtime_error("tokenizer: " + spec.source + ": " + std::to_string(tokens.size()) + " tokens but " +
                             std::to_string(token_types.size()) + " token types");
  const PreFamily family = family_for(pre);
  spec.split_pattern = family.pattern;
  if (family.nfc) spec.normalizer.steps.push_back(tok::NormalForm::NFC);
  spec.ignore_merges = family.ignore_merges;
  spec.min_vocab_size = static_cast<int32_t>(tokens.size());

  spec.vocab.reserve(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    const auto id = static_cast<int32_t>(i);
    const int32_t type = token_types.empty() ? 1 : token_types[i];
    if (type == kTypeControl || type == kTypeUserDefined) {
      // Stored as plain text (not byte-level), like tokenizer.json's added_tokens contents.
      tok::AddedToken t;
      t.id = id;
      t.content = tokens[i];
      t.special = type == kTypeControl;
      spec.added_tokens.push_back(std::move(t));
    } else if (type != kTypeUnused && !tokens[i].empty()) {
      // Unused slots ([PAD...] fillers) stay token-less, as in the tokenizer.json they came from.
      spec.vocab.emplace(tokens[i], id);  // a repeated string keeps its first id
    }
  }

  spec.merges.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const std::string& m = merges[r];
    const size_t space = m.find(' ', 1);
    if (space == std::string::npos)
      throw std::runtime_error("tokenizer: " + spec.source + ": merge " + std::to_string(r) + " \"" + m +
                               "\" is not \"a b\"");
    spec.merges.emplace_back(m.substr(0, space), m.substr(space + 1));
  }
  return from_spec(spec);
}

}  // namespace qbench
