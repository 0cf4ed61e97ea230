#include "engines/model/transformer.h"

#include <algorithm>

#include "engines/core/error.h"

namespace qbench {

Transformer::Transformer(ModelConfig config, ModelWeights weights, std::unique_ptr<Ops> ops, int64_t max_chunk)
    : cfg_(std::move(config)), w_(std::move(weights)), ops_(std::move(ops)), max_chunk_(std::max<int64_t>(1, max_chunk)) {
  if (int64_t(w_.layers.size()) != cfg_.num_layers) throw Error("weights hold a different number of layers than the config");
  mem_.add(MemCategory::Weights, int64_t(w_.weight_bytes()));
}

Sequence Transformer::new_sequence(int64_t max_tokens, KvType kv_type) {
  if (max_tokens <= 0) throw Error("a sequence needs room for at least one token");
  Sequence s;
  s.kv = std::make_unique<KvCache>(cfg_.num_layers, max_tokens, cfg_.num_kv_heads, cfg_.head_dim, kv_type, &mem_);
  return s;
}

void Transformer::ensure_workspace(int64_t n) {
  if (n <= ws_rows_) return;
  const int64_t h = cfg_.hidden_size, qd = cfg_.num_heads * cfg_.head_dim, kvd = cfg_.num_kv_heads * cfg_.head_dim,
                ff = cfg_.intermediate_size;
  x_.assign(n * h, 0.f);
  xn_.assign(n * h, 0.f);
  q_.assign(n * qd, 0.f);
  k_.assign(n * kvd, 0.f);
  v_.assign(n * kvd, 0.f);
  att_.assign(n * qd, 0.f);
  gate_.assign(n * ff, 0.f);
  up_.assign(n * ff, 0.f);
  tmp_.assign(n * h, 0.f);
  pos_.assign(n, 0);
  const uint64_t bytes = (x_.size() + xn_.size() + q_.size() + k_.size() + v_.size() + att_.size() + gate_.size() +
                          up_.size() + tmp_.size()) * sizeof(float) + pos_.size() * sizeof(int32_t);
  mem_.sub(MemCategory::Activations, int64_t(ws_bytes_));
  ws_bytes_ = bytes;
  mem_.add(MemCategory::Activations, int64_t(ws_bytes_));
  ws_rows_ = n;
}

void Transformer::forward(Sequence& seq, const int32_t* tokens, int64_t n, LogitsMode mode, std::vector<float>& logits) {
  if (n <= 0) throw Error("forward needs at least one token");
  if (seq.n_past + n > seq.kv->max_tokens())
    throw Error("sequence of " + std::to_string(seq.n_past + n) + " tokens exceeds its KV cache (" +
                std::to_string(seq.kv->max_tokens()) + " tokens)");
  for (int64_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= cfg_.vocab_size)
      throw Error("token id " + std::to_string(tokens[i]) + " is outside the vocabulary (" + std::to_string(cfg_.vocab_size) + ")");
  const int64_t V = cfg_.vocab_size;
  if (mode == LogitsMode::All) logits.resize(size_t(n) * V);
  else if (mode == LogitsMode::Last) logits.resize(size_t(V));
  for (int64_t done = 0; done < n;) {
    const int64_t c = std::min(max_chunk_, n - done);
    const bool last_chunk = done + c == n;
    float* out = mode == LogitsMode::All ? logits.data() + size_t(done) * V : logits.data();
    forward_chunk(seq, tokens + done, c, mode == LogitsMode::All, mode == LogitsMode::Last && last_chunk, out);
    done += c;
  }
}

void Transformer::forward_chunk(Sequence& seq, const int32_t* tokens, int64_t n, bool want_all, bool want_last,
                                float* logits_out) {
  ensure_workspace(n);
  const int64_t h = cfg_.hidden_size, qd = cfg_.num_heads * cfg_.head_dim, kvd = cfg_.num_kv_heads * cfg_.head_dim,
                ff = cfg_.intermediate_size, pos0 = seq.n_past;
  const float eps = float(cfg_.rms_norm_eps);
  for (int64_t i = 0; i < n; ++i) pos_[i] = int32_t(pos0 + i);

  w_.embed->gather_rows(tokens, n, x_.data());
  for (int64_t l = 0; l < cfg_.num_layers; ++l) {
    const LayerWeights& L = w_.layers[l];
    // Attention block.
    ops_->rmsnorm(x_.data(), L.attn_norm.data(), xn_.data(), n, h, eps);
    L.q->forward(xn_.data(), q_.data(), n);
    L.k->forward(xn_.data(), k_.data(), n);
    L.v->forward(xn_.data(), v_.data(), n);
    if (!L.q_bias.empty()) ops_->add_bias(q_.data(), L.q_bias.data(), n, qd);
    if (!L.k_bias.empty()) ops_->add_bias(k_.data(), L.k_bias.data(), n, kvd);
    if (!L.v_bias.empty()) ops_->add_bias(v_.data(), L.v_bias.data(), n, kvd);
    ops_->rope(q_.data(), n, cfg_.num_heads, cfg_.head_dim, pos_.data(), cfg_.rope_theta);
    ops_->rope(k_.data(), n, cfg_.num_kv_heads, cfg_.head_dim, pos_.data(), cfg_.rope_theta);
    ops_->kv_store(*seq.kv, l, pos0, k_.data(), v_.data(), n);
    ops_->attention(*seq.kv, l, pos0, q_.data(), att_.data(), n, cfg_.num_heads);
    L.o->forward(att_.data(), tmp_.data(), n);
    ops_->add(x_.data(), tmp_.data(), n * h);
    // MLP block (SwiGLU).
    ops_->rmsnorm(x_.data(), L.ffn_norm.data(), xn_.data(), n, h, eps);
    L.gate->forward(xn_.data(), gate_.data(), n);
    L.up->forward(xn_.data(), up_.data(), n);
    ops_->silu_mul(gate_.data(), up_.data(), gate_.data(), n * ff);
    L.down->forward(gate_.data(), tmp_.data(), n);
    ops_->add(x_.data(), tmp_.data(), n * h);
  }
  seq.n_past += n;
  if (want_all) {
    ops_->rmsnorm(x_.data(), w_.final_norm.data(), xn_.data(), n, h, eps);
    w_.output().forward(xn_.data(), logits_out, n);
  } else if (want_last) {
    ops_->rmsnorm(x_.data() + (n - 1) * h, w_.final_norm.data(), xn_.data(), 1, h, eps);
    w_.output().forward(xn_.data(), logits_out, 1);
  }
}

}  // namespace qbench
