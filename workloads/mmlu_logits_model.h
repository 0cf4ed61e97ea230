#pragma once
// What the MMLU workload needs from a model: the logits of some positions of a
// token sequence. Tests implement it with a stub returning chosen logits; the
// engine implementation adds prefix reuse.
#include <cstdint>
#include <vector>

#include "engines/model/kv_cache.h"
#include "engines/registry/engine.h"

namespace qbench {

class McLogitsModel {
 public:
  virtual ~McLogitsModel() = default;
  virtual int64_t vocab_size() const = 0;
  // The longest sequence logits() accepts.
  virtual int64_t context_length() const = 0;
  // out = logits of positions [from, tokens.size()) of the sequence `tokens` fed from position 0,
  // as rows [tokens.size() - from, vocab]. Requires 0 <= from < tokens.size() <= context_length().
  virtual void logits(const std::vector<int32_t>& tokens, int64_t from, std::vector<float>& out) = 0;
  // Tokens pushed through the transformer so far (prefix reuse shows as fewer).
  virtual int64_t tokens_evaluated() const = 0;
};

// Runs an Engine's transformer on one Sequence. With prefix reuse, the tokens already
// in the KV cache that match the new sequence's start are not computed again: n_past is
// simply set back to the length of the common prefix and only the rest is fed. No copy is
// needed: positions at or beyond n_past are overwritten by the new tokens before anything
// reads them, and attention at position p reads only positions <= p (causal mask), so stale
// entries of the previous question are never seen.
class EngineLogitsModel : public McLogitsModel {
 public:
  EngineLogitsModel(Engine& engine, int64_t context_length, KvType kv_type, bool prefix_reuse);
  int64_t vocab_size() const override;
  int64_t context_length() const override { return ctx_; }
  void logits(const std::vector<int32_t>& tokens, int64_t from, std::vector<float>& out) override;
  int64_t tokens_evaluated() const override { return evaluated_; }

 private:
  Engine& engine_;
  int64_t ctx_;
  bool reuse_;
  Sequence seq_;
  std::vector<int32_t> cached_;  // the tokens whose K/V fill positions [0, cached_.size())
  std::vector<float> scratch_;
  int64_t evaluated_ = 0;
};

}  // namespace qbench
