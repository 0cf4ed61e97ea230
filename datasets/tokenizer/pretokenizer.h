#pragma once
// Pre-tokenization: the regex Split (behavior "Isolated") that cuts text into words before BPE.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace qbench::tok {

// Split regexes of the byte-level BPE families, as their tokenizer.json files spell them.
inline constexpr const char* kQwen2SplitPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
inline constexpr const char* kLlama3SplitPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// GPT-2's, which HF's ByteLevel pre-tokenizer applies itself when use_regex is true.
inline constexpr const char* kGpt2SplitPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// HF runs these patterns with Oniguruma, whose \s is exactly Unicode White_Space; PCRE2's \s (UCP) also takes
// U+180E. Rewrites \s (anywhere) and \S (outside brackets) into explicit White_Space classes so both agree.
std::string with_explicit_whitespace(const std::string& pattern);

class RegexSplitter {
 public:
  // Compiles with PCRE2 (UTF, UCP, JIT when available); throws std::runtime_error with PCRE2's message.
  explicit RegexSplitter(const std::string& pattern);

  // Appends the pieces of `text` to `out` in order: every match, and every non-empty gap between matches.
  // `text` must be valid UTF-8 (it is not checked again here).
  void split(std::string_view text, std::vector<std::string_view>& out) const;
  bool uses_jit() const { return jit_; }

 private:
  std::shared_ptr<void> code_;  // pcre2_code_8, type-erased to keep pcre2.h out of this header
  bool jit_ = false;
};

}  // namespace qbench::tok
