#pragma once
// The one decoder-only transformer (Qwen2 / Llama family) every backend runs:
// embedding, RMSNorm, RoPE, GQA attention over a KV cache, SwiGLU, LM head.
// Formats differ only in their Linears; devices only in their Ops.
#include <cstdint>
#include <memory>
#include <vector>

#include "engines/model/kv_cache.h"
#include "engines/model/memory_account.h"
#include "engines/model/model_config.h"
#include "engines/model/model_weights.h"
#include "engines/model/ops.h"

namespace qbench {

// One sequence being generated: its KV cache and how many positions it holds.
struct Sequence {
  std::unique_ptr<KvCache> kv;
  int64_t n_past = 0;
};

enum class LogitsMode { Last, All, None };

class Transformer {
 public:
  // max_chunk bounds the tokens of one forward pass (longer prompts are
  // processed in chunks), and so the activation memory.
  Transformer(ModelConfig config, ModelWeights weights, std::unique_ptr<Ops> ops, int64_t max_chunk = 512);

  const ModelConfig& config() const { return cfg_; }
  const ModelWeights& weights() const { return w_; }
  MemoryAccount& memory() { return mem_; }

  Sequence new_sequence(int64_t max_tokens, KvType kv_type);

  // Feeds tokens at positions seq.n_past, seq.n_past+1, ... and advances n_past.
  // logits receives [1, vocab] (Last), [n, vocab] (All) or nothing (None).
  void forward(Sequence& seq, const int32_t* tokens, int64_t n, LogitsMode mode, std::vector<float>& logits);

 private:
  void forward_chunk(Sequence& seq, const int32_t* tokens, int64_t n, bool want_all, bool want_last, float* logits_out);
  void ensure_workspace(int64_t n);

  ModelConfig cfg_;
  ModelWeights w_;
  std::unique_ptr<Ops> ops_;
  int64_t max_chunk_;
  MemoryAccount mem_;

  // Activation buffers sized for the largest chunk seen so far.
  int64_t ws_rows_ = 0;
  std::vector<float> x_, xn_, q_, k_, v_, att_, gate_, up_, tmp_, head_in_;
  std::vector<int32_t> pos_;
  uint64_t ws_bytes_ = 0;
};

}  // namespace qbench
