#include "datasets/tokenizer/bpe_model.h"

#include <mutex>
#include <queue>
#include <stdexcept>

#include "datasets/tokenizer/byte_level.h"

namespace qbench::tok {

BpeModel::BpeModel(std::unordered_map<std::string, int32_t> vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges, bool ignore_merges)
    : vocab_(std::move(vocab)), ignore_merges_(ignore_merges) {
  auto need = [&](const std::string& token, size_t rank) {
    auto it = vocab_.find(token);
    if (it == vocab_.end())
      throw std::runtime_error("merge " + std::to_string(rank) + " uses \"" + token + "\", which is not in the vocab");
    return it->second;
  };
  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    const int32_t ia = need(a, rank), ib = need(b, rank), ir = need(a + b, rank);
    // A repeated pair keeps its first (best) rank.
    merges_.emplace(pair_key(ia, ib), Merge{static_cast<int32_t>(rank), ir});
  }
  for (int b = 0; b < 256; ++b) {
    auto it = vocab_.find(byte_level_char(static_cast<unsigned char>(b)));
    byte_id_[b] = it == vocab_.end() ? -1 : it->second;
  }
}

std::optional<int32_t> BpeModel::id_of(std::string_view byte_level_token) const {
  auto it = vocab_.find(std::string(byte_level_token));
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const BpeModel::Merge* BpeModel::find_merge(int32_t a, int32_t b) const {
  auto it = merges_.find(pair_key(a, b));
  return it == merges_.end() ? nullptr : &it->second;
}

// Lowest-rank pair first, leftmost among equal ranks, with stale queue entries skipped when popped: the
// same order as HF's BPE, so ties resolve identically. O(n log n) per word, so long words stay cheap.
void BpeModel::merge_word(std::string_view bytes, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t id;
    int32_t prev, next;  // neighbours still alive, -1 at the ends
    int32_t len;         // bytes covered; 0 once merged into its left neighbour
  };
  struct Candidate {
    int32_t rank, pos, new_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };

  std::vector<Symbol> sym;
  sym.reserve(bytes.size());
  for (char c : bytes) {
    const int32_t id = byte_id_[static_cast<unsigned char>(c)];
    if (id < 0) continue;  // no symbol for this byte and no unk token: HF drops it too
    const auto i = static_cast<int32_t>(sym.size());
    sym.push_back({id, i - 1, i + 1, 1});
  }
  if (sym.empty()) return;
  sym.back().next = -1;

  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  for (size_t i = 0; i + 1 < sym.size(); ++i)
    if (const Merge* m = find_merge(sym[i].id, sym[i + 1].id))
      queue.push({m->rank, static_cast<int32_t>(i), m->new_id});

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = sym[c.pos];
    if (left.len == 0 || left.next < 0) continue;
    Symbol& right = sym[left.next];
    const Merge* m = find_merge(left.id, right.id);
    if (!m || m->new_id != c.new_id) continue;  // this pair changed since it was queued

    left.id = c.new_id;
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (left.next >= 0) sym[left.next].prev = c.pos;

    if (left.prev >= 0)
      if (const Merge* p = find_merge(sym[left.prev].id, left.id)) queue.push({p->rank, left.prev, p->new_id});
    if (left.next >= 0)
      if (const Merge* n = find_merge(left.id, sym[left.next].id)) queue.push({n->rank, c.pos, n->new_id});
  }
  for (int32_t i = 0; i >= 0; i = sym[i].next) out.push_back(sym[i].id);
}

void BpeModel::encode_word(std::string_view bytes, std::vector<int32_t>& out) const {
  if (bytes.empty()) return;
  if (bytes.size() == 1) {  // the commonest case needs neither merges nor the cache
    const int32_t id = byte_id_[static_cast<unsigned char>(bytes[0])];
    if (id >= 0) out.push_back(id);
    return;
  }
  const bool cacheable = bytes.size() <= kCacheMaxWordBytes;
  if (cacheable) {
    std::shared_lock lock(cache_mutex_);
    if (auto it = cache_.find(bytes); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t first = out.size();
  if (ignore_merges_) {
    if (auto it = vocab_.find(to_byte_level(bytes)); it != vocab_.end()) out.push_back(it->second);
  }
  if (out.size() == first) merge_word(bytes, out);
  if (cacheable) {
    std::unique_lock lock(cache_mutex_);
    if (cache_.size() < kCacheMaxEntries)
      cache_.emplace(std::string(bytes), std::vector<int32_t>(out.begin() + first, out.end()));
  }
}

}  // namespace qbench::tok
