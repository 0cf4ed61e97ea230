#pragma once
// Unicode normalization of the text between added tokens (HF "normalizer": NFC for Qwen2).
#include <string>
#include <string_view>
#include <vector>

namespace qbench::tok {

enum class NormalForm { NFC, NFD, NFKC, NFKD };

struct Normalizer {
  std::vector<NormalForm> steps;  // applied in order (HF "Sequence"); empty: identity

  bool identity() const { return steps.empty(); }
  // Returns `in` itself when nothing can change (no steps, or ASCII-only text), else a view of `storage`.
  // `in` must be valid UTF-8.
  std::string_view apply(std::string_view in, std::string& storage) const;
};

}  // namespace qbench::tok
