#pragma once
// The one decoder-only transformer (Qwen2 / Llama family) every backend runs:
// embedding, RMSNorm, RoPE, GQA attention over a paged KV cache, SwiGLU, LM
// head. Formats differ only in their Linears; devices only in their Ops.
// Several sequences can share one pass (batched decode, continuous batching):
// their tokens are stacked so every Linear runs once over all of them.
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "engines/model/device_array.h"
#include "engines/model/kv_cache.h"
#include "engines/model/memory_account.h"
#include "engines/model/model_config.h"
#include "engines/model/model_weights.h"
#include "engines/model/ops.h"

namespace qbench {

// One sequence being generated: its KV cache and how many positions it holds.
// Setting n_past back (prefix reuse) is allowed: later positions are overwritten
// before they are read.
struct Sequence {
  std::unique_ptr<KvCache> kv;
  int64_t n_past = 0;
};

enum class LogitsMode { Last, All, None };

class Transformer {
 public:
  // max_chunk bounds the tokens of one forward pass of forward() (longer
  // prompts are processed in chunks), and so the activation memory.
  Transformer(ModelConfig config, ModelWeights weights, std::unique_ptr<Ops> ops, int64_t max_chunk = 512);
  ~Transformer();

  const ModelConfig& config() const { return cfg_; }
  const ModelWeights& weights() const { return w_; }
  MemoryAccount& memory() { return mem_; }
  Ops& ops() { return *ops_; }

  // A sequence with a private KV cache of exactly max_tokens positions.
  Sequence new_sequence(int64_t max_tokens, KvType kv_type);
  // A shared paged KV pool of at least `tokens` slots, and sequences in it.
  std::shared_ptr<KvBlockPool> new_kv_pool(int64_t tokens, KvType kv_type,
                                           int64_t block_tokens = KvBlockPool::kDefaultBlockTokens);
  Sequence new_sequence_in(std::shared_ptr<KvBlockPool> pool);

  // Feeds tokens at positions seq.n_past, seq.n_past+1, ... and advances n_past.
  // logits receives [1, vocab] (Last), [n, vocab] (All) or nothing (None).
  void forward(Sequence& seq, const int32_t* tokens, int64_t n, LogitsMode mode, std::vector<float>& logits);

  struct BatchItem {
    Sequence* seq;
    const int32_t* tokens;
    int64_t n;
    bool want_logits;  // logits of this item's last token
  };
  // One pass over several sequences (each with its own positions and KV
  // cache). Reserves KV blocks as needed; throws qbench::Error when the pool
  // has too few (schedulers reserve first). logits: [items wanting logits, vocab] in item order.
  void forward_batch(const std::vector<BatchItem>& items, std::vector<float>& logits);
  // forward_batch with greedy sampling where the logits are (on a GPU only the token ids come back):
  // tokens[i] = argmax (lowest id on ties, as argmax()) of the i-th item wanting logits.
  void forward_batch_greedy(const std::vector<BatchItem>& items, std::vector<int32_t>& tokens);
  // Greedy decode of one sequence from `token` (its last sampled token, not yet fed): up to n steps, each
  // new token handed to on_token in order until it returns false. The tokens of n forward_batch_greedy calls.
  // On a device with Ops::pipelined_greedy the next step is queued before this step's token is read (its
  // embedding lookup takes the argmax on the device), so the host's per-step work overlaps the device's; a
  // step queued past a stop is waited for and its position given back (seq.n_past counts fed tokens only).
  // A step that cannot be queued (the sequence is full) throws one token earlier than the synchronous loop
  // would: before the token of the step ahead of it reaches on_token. decode_greedy.cpp.
  void decode_greedy(Sequence& seq, int32_t token, int64_t n, const std::function<bool(int32_t)>& on_token);
  // Whether decode_greedy pipelines here (QBENCH_PIPELINED_DECODE=0: never).
  bool decode_pipelined() const;

 private:
  // Checks and runs the layers, then final-norms the wanted rows into xn_; returns how many. With device_ids
  // the embedding lookup reads the tokens there (device memory, one per row) and the items' tokens are unused.
  int64_t run_to_head(const std::vector<BatchItem>& items, const int32_t* device_ids = nullptr);
  void run_layers(const std::vector<BatchItem>& items, int64_t rows, const int32_t* device_ids);
  // One pipelined decode step queued (decode_greedy.cpp): its token from step[0].tokens, or with
  // device_token from the last step's argmax on the device; returns the ticket of its sampled id.
  uint64_t queue_greedy_step(const std::vector<BatchItem>& step, bool device_token);
  void ensure_workspace(int64_t rows);

  ModelConfig cfg_;
  ModelWeights w_;
  std::unique_ptr<Ops> ops_;
  int64_t max_chunk_;
  MemoryAccount mem_;

  // Norms and biases on the device.
  struct LayerVectors {
    DeviceArray<float> attn_norm, ffn_norm, q_bias, k_bias, v_bias;
  };
  std::vector<LayerVectors> lv_;
  DeviceArray<float> final_norm_;

  // Activation buffers sized for the largest pass so far.
  int64_t ws_rows_ = 0;
  DeviceArray<float> x_, xn_, q_, k_, v_, att_, gate_, up_, tmp_, logits_;
  DeviceArray<int32_t> pos_;
  std::vector<int32_t> pos_host_, ids_host_, last_rows_;
  std::vector<Ops::SeqRows> seq_rows_;
  std::vector<float> greedy_logits_;  // host devices: the LM head's output before the argmax
  DeviceArray<int32_t> device_token_;  // pipelined greedy decode: the sampled id, on the device
};

}  // namespace qbench
