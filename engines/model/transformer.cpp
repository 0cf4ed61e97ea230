#include "engines/model/transformer.h"

#include <algorithm>

#include "engines/core/error.h"

namespace qbench {

Transformer::Transformer(ModelConfig config, ModelWeights weights, std::unique_ptr<Ops> ops, int64_t max_chunk)
    : cfg_(std::move(config)), w_(std::move(weights)), ops_(std::move(ops)), max_chunk_(std::max<int64_t>(1, max_chunk)) {
  if (int64_t(w_.layers.size()) != cfg_.num_layers) throw Error("weights hold a different number of layers than the config");
  mem_.add(MemCategory::Weights, int64_t(w_.weight_bytes()));
  Ops* o = ops_.get();
  // Small vectors are counted in weight_bytes() already: no second accounting.
  for (auto& L : w_.layers)
    lv_.push_back({DeviceArray<float>(o, L.attn_norm, nullptr, MemCategory::Weights),
                   DeviceArray<float>(o, L.ffn_norm, nullptr, MemCategory::Weights),
                   DeviceArray<float>(o, L.q_bias, nullptr, MemCategory::Weights),
                   DeviceArray<float>(o, L.k_bias, nullptr, MemCategory::Weights),
                   DeviceArray<float>(o, L.v_bias, nullptr, MemCategory::Weights)});
  final_norm_ = DeviceArray<float>(o, w_.final_norm, nullptr, MemCategory::Weights);
}

Transformer::~Transformer() = default;

Sequence Transformer::new_sequence(int64_t max_tokens, KvType kv_type) {
  if (max_tokens <= 0) throw Error("a sequence needs room for at least one token");
  Sequence s;
  s.kv = std::make_unique<KvCache>(cfg_.num_layers, max_tokens, cfg_.num_kv_heads, cfg_.head_dim, kv_type, &mem_, ops_.get());
  return s;
}

std::shared_ptr<KvBlockPool> Transformer::new_kv_pool(int64_t tokens, KvType kv_type, int64_t block_tokens) {
  if (tokens <= 0 || block_tokens <= 0) throw Error("a KV pool needs a positive size");
  const int64_t blocks = (tokens + block_tokens - 1) / block_tokens;
  return std::make_shared<KvBlockPool>(cfg_.num_layers, cfg_.num_kv_heads, cfg_.head_dim, kv_type, block_tokens, blocks,
                                       &mem_, ops_.get());
}

Sequence Transformer::new_sequence_in(std::shared_ptr<KvBlockPool> pool) {
  Sequence s;
  s.kv = std::make_unique<KvCache>(std::move(pool));
  return s;
}

void Transformer::ensure_workspace(int64_t n) {
  if (n <= ws_rows_) return;
  const int64_t h = cfg_.hidden_size, qd = cfg_.num_heads * cfg_.head_dim, kvd = cfg_.num_kv_heads * cfg_.head_dim,
                ff = cfg_.intermediate_size;
  Ops* o = ops_.get();
  auto f = [&](int64_t count) { return DeviceArray<float>(o, size_t(count), &mem_, MemCategory::Activations); };
  // Release before allocating the larger set so the peak is not both.
  x_ = {}; xn_ = {}; q_ = {}; k_ = {}; v_ = {}; att_ = {}; gate_ = {}; up_ = {}; tmp_ = {}; pos_ = {}; logits_ = {};
  x_ = f(n * h);
  xn_ = f(n * h);
  q_ = f(n * qd);
  k_ = f(n * kvd);
  v_ = f(n * kvd);
  att_ = f(n * qd);
  gate_ = f(n * ff);
  up_ = f(n * ff);
  tmp_ = f(n * h);
  pos_ = DeviceArray<int32_t>(o, size_t(n), &mem_, MemCategory::Activations);
  // Device-side logits only where results must be downloaded; host devices write straight into the caller's vector.
  if (!ops_->host_memory()) logits_ = f(n * cfg_.vocab_size);
  ws_rows_ = n;
}

void Transformer::forward(Sequence& seq, const int32_t* tokens, int64_t n, LogitsMode mode, std::vector<float>& logits) {
  if (n <= 0) throw Error("forward needs at least one token");
  const int64_t V = cfg_.vocab_size;
  if (mode == LogitsMode::All) logits.resize(size_t(n) * V);
  else if (mode == LogitsMode::Last) logits.resize(size_t(V));
  std::vector<float> chunk_logits;
  for (int64_t done = 0; done < n;) {
    const int64_t c = std::min(max_chunk_, n - done);
    const bool last_chunk = done + c == n;
    if (mode == LogitsMode::All) {
      // Every position: one item per token would be wasteful; run the chunk and take all rows.
      std::vector<BatchItem> items = {{&seq, tokens + done, c, false}};
      forward_batch(items, chunk_logits);  // layers only
      // forward_batch advanced n_past; the LM head over all rows uses xn_ prepared below.
      const int64_t h = cfg_.hidden_size;
      ops_->rmsnorm(x_.data(), final_norm_.data(), xn_.data(), c, h, float(cfg_.rms_norm_eps));
      float* out = ops_->host_memory() ? logits.data() + size_t(done) * V : logits_.data();
      w_.output().forward(xn_.data(), out, c);
      if (!ops_->host_memory()) ops_->download(logits.data() + size_t(done) * V, logits_.data(), size_t(c * V) * sizeof(float));
    } else {
      std::vector<BatchItem> items = {{&seq, tokens + done, c, mode == LogitsMode::Last && last_chunk}};
      forward_batch(items, chunk_logits);
      if (mode == LogitsMode::Last && last_chunk) logits.swap(chunk_logits);
    }
    done += c;
  }
}

int64_t Transformer::run_to_head(const std::vector<BatchItem>& items, const int32_t* device_ids) {
  if (items.empty()) throw Error("forward_batch needs at least one sequence");
  int64_t rows = 0;
  for (auto& it : items) {
    if (it.n <= 0) throw Error("every sequence in a batch needs at least one token");
    for (int64_t i = 0; !device_ids && i < it.n; ++i)  // device-resident ids are argmaxes: in range
      if (it.tokens[i] < 0 || it.tokens[i] >= cfg_.vocab_size)
        throw Error("token id " + std::to_string(it.tokens[i]) + " is outside the vocabulary (" +
                    std::to_string(cfg_.vocab_size) + ")");
    if (it.seq->n_past + it.n > cfg_.max_position_embeddings)
      throw Error("sequence of " + std::to_string(it.seq->n_past + it.n) + " tokens exceeds the model's context (" +
                  std::to_string(cfg_.max_position_embeddings) + ")");
    if (!it.seq->kv->reserve(it.seq->n_past + it.n))
      throw Error("KV cache has no room for " + std::to_string(it.seq->n_past + it.n) + " tokens (holds " +
                  std::to_string(it.seq->kv->max_tokens()) + ")");
    rows += it.n;
  }
  ensure_workspace(rows);
  run_layers(items, rows, device_ids);

  // The last row of each item that wants logits.
  last_rows_.clear();
  int64_t r = 0;
  for (auto& it : items) {
    r += it.n;
    if (it.want_logits) last_rows_.push_back(int32_t(r - 1));
  }
  const int64_t m = int64_t(last_rows_.size()), h = cfg_.hidden_size;
  if (m == 0) return 0;
  // Gather the wanted rows' final-normed states into xn_ (rows are disjoint and ordered, so in place is safe).
  // Every row wanted (a decode step): one call over all of them.
  if (m == rows) {
    ops_->rmsnorm(x_.data(), final_norm_.data(), xn_.data(), m, h, float(cfg_.rms_norm_eps));
  } else {
    for (int64_t i = 0; i < m; ++i)
      ops_->rmsnorm(x_.data() + int64_t(last_rows_[i]) * h, final_norm_.data(), xn_.data() + i * h, 1, h,
                    float(cfg_.rms_norm_eps));
  }
  return m;
}

void Transformer::forward_batch(const std::vector<BatchItem>& items, std::vector<float>& logits) {
  const int64_t m = run_to_head(items), V = cfg_.vocab_size;
  logits.resize(size_t(m * V));
  if (m == 0) return;
  float* out = ops_->host_memory() ? logits.data() : logits_.data();
  w_.output().forward(xn_.data(), out, m);
  if (!ops_->host_memory()) ops_->download(logits.data(), logits_.data(), size_t(m * V) * sizeof(float));
}

void Transformer::forward_batch_greedy(const std::vector<BatchItem>& items, std::vector<int32_t>& tokens) {
  const int64_t m = run_to_head(items), V = cfg_.vocab_size;
  tokens.resize(size_t(m));
  if (m == 0) return;
  float* out = logits_.data();
  if (ops_->host_memory()) {
    greedy_logits_.resize(size_t(m * V));
    out = greedy_logits_.data();
  }
  w_.output().forward(xn_.data(), out, m);
  ops_->argmax_rows(out, m, V, tokens.data());
}

void Transformer::run_layers(const std::vector<BatchItem>& items, int64_t n, const int32_t* device_ids) {
  const int64_t h = cfg_.hidden_size, qd = cfg_.num_heads * cfg_.head_dim, kvd = cfg_.num_kv_heads * cfg_.head_dim,
                ff = cfg_.intermediate_size;
  const float eps = float(cfg_.rms_norm_eps);
  pos_host_.resize(size_t(n));
  std::vector<int32_t>& ids = ids_host_;  // reused across passes: no allocation per token
  ids.clear();
  {
    int64_t r = 0;
    for (auto& it : items)
      for (int64_t i = 0; i < it.n; ++i, ++r) {
        pos_host_[size_t(r)] = int32_t(it.seq->n_past + i);
        if (!device_ids) ids.push_back(it.tokens[i]);
      }
  }
  seq_rows_.clear();
  {
    int64_t r = 0;
    for (auto& it : items) {
      seq_rows_.push_back({it.seq->kv.get(), it.seq->n_past, it.n, r});
      r += it.n;
    }
  }
  ops_->upload(pos_.data(), pos_host_.data(), size_t(n) * sizeof(int32_t));
  if (device_ids) w_.embed->gather_rows_device(device_ids, n, x_.data());
  else w_.embed->gather_rows(ids.data(), n, x_.data());

  for (int64_t l = 0; l < cfg_.num_layers; ++l) {
    const LayerWeights& L = w_.layers[size_t(l)];
    const LayerVectors& V = lv_[size_t(l)];
    // Attention block.
    ops_->rmsnorm(x_.data(), V.attn_norm.data(), xn_.data(), n, h, eps);
    L.q->forward(xn_.data(), q_.data(), n);
    L.k->forward(xn_.data(), k_.data(), n);
    L.v->forward(xn_.data(), v_.data(), n);
    ops_->release(xn_.data(), n * h);
    if (!V.q_bias.empty()) ops_->add_bias(q_.data(), V.q_bias.data(), n, qd);
    if (!V.k_bias.empty()) ops_->add_bias(k_.data(), V.k_bias.data(), n, kvd);
    if (!V.v_bias.empty()) ops_->add_bias(v_.data(), V.v_bias.data(), n, kvd);
    ops_->rope(q_.data(), n, cfg_.num_heads, cfg_.head_dim, pos_.data(), cfg_.rope_theta);
    ops_->rope(k_.data(), n, cfg_.num_kv_heads, cfg_.head_dim, pos_.data(), cfg_.rope_theta);
    // Each sequence stores into and attends over its own cache.
    ops_->attention_batch(l, seq_rows_.data(), int64_t(seq_rows_.size()), k_.data(), v_.data(), q_.data(), att_.data(),
                          cfg_.num_heads);
    L.o->forward(att_.data(), tmp_.data(), n);
    ops_->add(x_.data(), tmp_.data(), n * h);
    // MLP block (SwiGLU).
    ops_->rmsnorm(x_.data(), V.ffn_norm.data(), xn_.data(), n, h, eps);
    L.gate->forward(xn_.data(), gate_.data(), n);
    L.up->forward(xn_.data(), up_.data(), n);
    ops_->release(xn_.data(), n * h);
    ops_->silu_mul(gate_.data(), up_.data(), gate_.data(), n * ff);
    L.down->forward(gate_.data(), tmp_.data(), n);
    ops_->release(gate_.data(), n * ff);
    ops_->add(x_.data(), tmp_.data(), n * h);
  }
  for (auto& it : items) it.seq->n_past += it.n;
}

}  // namespace qbench
