#pragma once
// Added tokens (tokenizer.json "added_tokens"; GGUF control/user-defined tokens): literal strings that are cut
// out of the text before normalization and BPE, each becoming its own id.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qbench::tok {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;     // control token: left as text when encode(..., parse_special=false)
  bool normalized = false;  // matched in normalized text (true) or in the raw input (false)
  bool lstrip = false;      // swallows the whitespace on its left
  bool rstrip = false;      // swallows the whitespace on its right
  bool single_word = false; // matches only when not inside a word
};

// A piece of the input: an added token's id, or text (token_id < 0) still to be tokenized.
struct Segment {
  int32_t token_id;
  size_t begin, end;  // byte range in the text given to split()
};

// Leftmost-longest, non-overlapping search for a fixed set of added tokens (HF uses Aho-Corasick with the
// same match kind), followed by HF's lstrip/rstrip/single_word rules.
class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  // Contents must already be in the form they are matched in; empty contents are ignored.
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);

  bool empty() const { return tokens_.empty(); }
  // Appends the segments of `text` (valid UTF-8) to `out`; nothing for empty text.
  void split(std::string_view text, bool parse_special, std::vector<Segment>& out) const;

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> next;  // sorted by byte
    int32_t token = -1;                                   // index into tokens_ ending here
  };
  // Longest token starting at text[pos]: (index into tokens_, length).
  std::optional<std::pair<int32_t, size_t>> longest_at(std::string_view text, size_t pos) const;

  std::vector<AddedToken> tokens_;
  std::vector<Node> nodes_;            // byte trie; nodes_[0] is the root
  std::array<int32_t, 256> root_{};    // the root's children, by byte (0: none), for a fast scan
};

}  // namespace qbench::tok
