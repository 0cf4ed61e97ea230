#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qbench {

struct ChatMessage {
  std::string role;
  std::string content;
};

// Everything a byte-level BPE tokenizer is made of, independent of the file it came from
// (defined in datasets/tokenizer/tokenizer_spec.h).
struct TokenizerSpec;

// Byte-level BPE tokenizer (GPT-2 family: Qwen2, Llama 3), bit-exact with Hugging Face `tokenizers`.
// Immutable after construction; copies share state; encode/decode are safe to call from several threads.
class Tokenizer {
 public:
  // HF tokenizer.json (model.type BPE, byte-level). Throws std::runtime_error naming the file on bad input.
  static Tokenizer from_hf_json_file(const std::string& path);
  static Tokenizer from_hf_json_text(const std::string& text, const std::string& where);
  // For GGUF files (tokenizer.ggml.model == "gpt2"): tokens are byte-level-encoded strings as in tokenizer.json's
  // vocab, merges are "a b" strings, token_types per id (1 normal, 3 control, 4 user-defined, 5 unused, ...).
  // Control and user-defined tokens are the "added tokens" matched before BPE (control ones are special).
  // pre = tokenizer.ggml.pre: "qwen2" (Qwen2 regex + NFC, as Qwen's tokenizer.json), "llama-bpe" (Llama 3 regex),
  // "gpt2"; other values throw std::runtime_error.
  static Tokenizer from_vocab(const std::vector<std::string>& tokens, const std::vector<std::string>& merges,
                              const std::vector<int32_t>& token_types, const std::string& pre);
  // Builds from an already assembled description; throws std::runtime_error naming spec.source.
  static Tokenizer from_spec(const TokenizerSpec& spec);

  // Input must be valid UTF-8 (as HF's &str); otherwise throws std::invalid_argument with the byte offset.
  // parse_special=false leaves special added tokens as plain text; non-special added tokens still match
  // (HF's encode_special_tokens, llama.cpp's parse_special).
  std::vector<int32_t> encode(std::string_view text, bool parse_special = true) const;
  // Bytes, exact inverse for normal tokens; added tokens give their content; ids with no token give nothing.
  std::string decode(const std::vector<int32_t>& ids) const;
  std::string token_to_piece(int32_t id) const;  // decoded bytes of one token ("" for ids with no token)
  int32_t vocab_size() const;                    // largest id + 1 over vocab and added tokens
  // Lookup of a token's (byte-level) string or of an added token's content.
  std::optional<int32_t> token_id(std::string_view token_text) const;
  bool is_special(int32_t id) const;

 private:
  struct Impl;
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// ChatML as Qwen2.5 writes it: "<|im_start|>system\n{content}<|im_end|>\n" ... and, when add_generation_prompt,
// a trailing "<|im_start|>assistant\n". If the first message is not "system", Qwen2.5's template inserts the
// default system prompt; done here when default_system is non-empty. Role "tool" messages are wrapped as the
// template does (<tool_response> inside a user turn); roles the template does not know are dropped, as it does.
std::string apply_chatml(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                         const std::string& default_system =
                             "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");

// Finds the tokenizer for a model path: DIR/tokenizer.json (a file path looks in its folder); "" when absent.
std::string find_tokenizer_json(const std::string& model_dir);

// The real Qwen2.5 tokenizer shipped by scripts/setup.sh at <repo>/third_party/qwen2.5-tokenizer/tokenizer.json;
// `repo_root` is passed by the caller. Returns "" if absent.
std::string bundled_qwen_tokenizer_path(const std::string& repo_root);

}  // namespace qbench
