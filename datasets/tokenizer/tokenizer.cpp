// The Tokenizer itself: built from a TokenizerSpec, then encode = added-token split -> normalize -> regex split
// -> BPE per word, and decode = byte-level inverse.
#include "datasets/tokenizer/tokenizer.h"

#include <algorithm>
#include <stdexcept>

#include "datasets/tokenizer/added_tokens.h"
#include "datasets/tokenizer/bpe_model.h"
#include "datasets/tokenizer/byte_level.h"
#include "datasets/tokenizer/normalizer.h"
#include "datasets/tokenizer/pretokenizer.h"
#include "datasets/tokenizer/tokenizer_spec.h"
#include "datasets/tokenizer/utf8.h"

namespace qbench {

struct Tokenizer::Impl {
  tok::Normalizer normalizer;
  std::optional<tok::RegexSplitter> splitter;
  std::unique_ptr<tok::BpeModel> bpe;
  tok::AddedTokenMatcher raw_added;         // added tokens with normalized=false, matched in the input
  tok::AddedTokenMatcher normalized_added;  // normalized=true ones, matched after normalization
  std::unordered_map<std::string, int32_t> added_ids;  // content -> id
  std::vector<std::string> pieces;                     // id -> decoded bytes
  std::vector<uint8_t> special;                        // id -> is a special added token
  int32_t vocab_size = 0;

  void encode_text(std::string_view text, bool parse_special, std::vector<int32_t>& ids) const;
  void encode_words(std::string_view text, std::vector<int32_t>& ids) const;
};

Tokenizer Tokenizer::from_spec(const TokenizerSpec& spec) {
  auto fail = [&](const std::string& what) -> std::runtime_error {
    return std::runtime_error("tokenizer: " + spec.source + ": " + what);
  };
  auto impl = std::make_shared<Impl>();
  impl->normalizer = spec.normalizer;

  int32_t max_id = -1;
  for (const auto& [token, id] : spec.vocab) {
    if (id < 0) throw fail("negative id " + std::to_string(id) + " for token \"" + token + "\"");
    max_id = std::max(max_id, id);
  }
  for (const auto& t : spec.added_tokens) {
    if (t.id < 0) throw fail("negative id " + std::to_string(t.id) + " for added token \"" + t.content + "\"");
    max_id = std::max(max_id, t.id);
  }
  if (max_id < 0) throw fail("empty vocabulary");
  impl->vocab_size = std::max(max_id + 1, spec.min_vocab_size);

  try {
    impl->bpe = std::make_unique<tok::BpeModel>(spec.vocab, spec.merges, spec.ignore_merges);
    if (spec.split_pattern) impl->splitter.emplace(*spec.split_pattern);
  } catch (const std::runtime_error& e) {
    throw fail(e.what());
  }

  impl->pieces.resize(impl->vocab_size);
  impl->special.assign(impl->vocab_size, 0);
  for (const auto& [token, id] : spec.vocab) {
    // A token outside the byte-level alphabet decodes to its own UTF-8 text, as HF's ByteLevel decoder does.
    auto bytes = tok::from_byte_level(token);
    impl->pieces[id] = bytes ? std::move(*bytes) : token;
  }

  std::vector<tok::AddedToken> raw, normalized;
  for (const auto& t : spec.added_tokens) {
    if (tok::find_invalid_utf8(t.content) != std::string_view::npos)
      throw fail("added token " + std::to_string(t.id) + " is not valid UTF-8");
    impl->pieces[t.id] = t.content;
    impl->special[t.id] = t.special;
    impl->added_ids.emplace(t.content, t.id);
    if (t.normalized) {
      tok::AddedToken n = t;
      std::string storage;
      n.content = std::string(spec.normalizer.apply(t.content, storage));
      normalized.push_back(std::move(n));
    } else {
      raw.push_back(t);
    }
  }
  impl->raw_added = tok::AddedTokenMatcher(std::move(raw));
  impl->normalized_added = tok::AddedTokenMatcher(std::move(normalized));
  return Tokenizer(std::move(impl));
}

void Tokenizer::Impl::encode_words(std::string_view text, std::vector<int32_t>& ids) const {
  if (!splitter) {
    bpe->encode_word(text, ids);
    return;
  }
  std::vector<std::string_view> words;
  splitter->split(text, words);
  for (std::string_view w : words) bpe->encode_word(w, ids);
}

void Tokenizer::Impl::encode_text(std::string_view text, bool parse_special, std::vector<int32_t>& ids) const {
  std::string storage;
  const std::string_view norm = normalizer.apply(text, storage);
  if (normalized_added.empty()) {
    encode_words(norm, ids);
    return;
  }
  std::vector<tok::Segment> segments;
  normalized_added.split(norm, parse_special, segments);
  for (const auto& s : segments) {
    if (s.token_id >= 0)
      ids.push_back(s.token_id);
    else
      encode_words(norm.substr(s.begin, s.end - s.begin), ids);
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool parse_special) const {
  if (size_t bad = tok::find_invalid_utf8(text); bad != std::string_view::npos)
    throw std::invalid_argument("tokenizer: input is not valid UTF-8 (byte offset " + std::to_string(bad) + ")");
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 1);
  // Added tokens are found in the raw text first, so that the normalizer and the split regex never see them.
  std::vector<tok::Segment> segments;
  impl_->raw_added.split(text, parse_special, segments);
  for (const auto& s : segments) {
    if (s.token_id >= 0)
      ids.push_back(s.token_id);
    else
      impl_->encode_text(text.substr(s.begin, s.end - s.begin), parse_special, ids);
  }
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  for (int32_t id : ids)
    if (id >= 0 && id < impl_->vocab_size) out += impl_->pieces[id];
  return out;
}

std::string Tokenizer::token_to_piece(int32_t id) const {
  return id >= 0 && id < impl_->vocab_size ? impl_->pieces[id] : std::string();
}

int32_t Tokenizer::vocab_size() const { return impl_->vocab_size; }

std::optional<int32_t> Tokenizer::token_id(std::string_view token_text) const {
  if (auto it = impl_->added_ids.find(std::string(token_text)); it != impl_->added_ids.end()) return it->second;
  return impl_->bpe->id_of(token_text);
}

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && id < impl_->vocab_size && impl_->special[id];
}

}  // namespace qbench
