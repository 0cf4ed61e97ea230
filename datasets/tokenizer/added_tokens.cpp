#include "datasets/tokenizer/added_tokens.h"

#include <algorithm>

#include "datasets/tokenizer/utf8.h"

namespace qbench::tok {

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) {
  nodes_.emplace_back();
  for (auto& t : tokens) {
    if (t.content.empty()) continue;
    int32_t node = 0;
    for (unsigned char b : t.content) {
      auto& kids = nodes_[node].next;
      auto it = std::lower_bound(kids.begin(), kids.end(), b,
                                 [](const auto& kid, unsigned char key) { return kid.first < key; });
      if (it != kids.end() && it->first == b) {
        node = it->second;
      } else {
        const auto child = static_cast<int32_t>(nodes_.size());
        kids.insert(it, {b, child});
        nodes_.emplace_back();  // may reallocate: `kids` is not used after this
        node = child;
      }
    }
    if (nodes_[node].token < 0) {  // duplicate contents: the first definition wins
      nodes_[node].token = static_cast<int32_t>(tokens_.size());
      tokens_.push_back(std::move(t));
    }
  }
  for (const auto& [b, child] : nodes_[0].next) root_[b] = child;
}

std::optional<std::pair<int32_t, size_t>> AddedTokenMatcher::longest_at(std::string_view text, size_t pos) const {
  int32_t node = root_[static_cast<unsigned char>(text[pos])];
  if (node == 0) return std::nullopt;
  std::optional<std::pair<int32_t, size_t>> best;
  for (size_t i = pos + 1;; ++i) {
    if (nodes_[node].token >= 0) best = {{nodes_[node].token, i - pos}};
    if (i == text.size()) break;
    const auto& kids = nodes_[node].next;
    const auto b = static_cast<unsigned char>(text[i]);
    auto it = std::lower_bound(kids.begin(), kids.end(), b,
                               [](const auto& kid, unsigned char key) { return kid.first < key; });
    if (it == kids.end() || it->first != b) break;
    node = it->second;
  }
  return best;
}

void AddedTokenMatcher::split(std::string_view text, bool parse_special, std::vector<Segment>& out) const {
  const size_t n = text.size();
  size_t emitted = 0;  // end of what has been given out so far
  size_t pos = 0;
  while (pos < n) {
    auto match = tokens_.empty() ? std::nullopt : longest_at(text, pos);
    if (!match) {
      ++pos;
      continue;
    }
    const AddedToken& tok = tokens_[match->first];
    size_t start = pos, stop = pos + match->second;
    pos = stop;  // the search goes on after the match even when the match is then dropped below
    if (tok.special && !parse_special) continue;
    if (tok.single_word) {
      size_t before = start, after = stop;
      const bool word_before = start > 0 && is_word_char(prev_codepoint(text, before));
      const bool word_after = stop < n && is_word_char(next_codepoint(text, after));
      if (word_before || word_after) continue;
    }
    if (tok.lstrip) {
      // Whitespace already given out (e.g. to the previous token's rstrip) is not taken twice.
      size_t s = start;
      while (s > emitted) {
        size_t p = s;
        if (!is_unicode_whitespace(prev_codepoint(text, p))) break;
        s = p;
      }
      start = s;
    }
    if (tok.rstrip) {
      while (stop < n) {
        size_t p = stop;
        if (!is_unicode_whitespace(next_codepoint(text, p))) break;
        stop = p;
      }
      pos = stop;
    }
    if (start > emitted) out.push_back({-1, emitted, start});
    out.push_back({tok.id, start, stop});
    emitted = stop;
  }
  if (emitted < n) out.push_back({-1, emitted, n});
}

}  // namespace qbench::tok
