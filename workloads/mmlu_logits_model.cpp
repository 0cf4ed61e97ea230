#include "workloads/mmlu_logits_model.h"

#include <algorithm>

#include "engines/core/error.h"

namespace qbench {

EngineLogitsModel::EngineLogitsModel(Engine& engine, int64_t context_length, KvType kv_type, bool prefix_reuse)
    : engine_(engine), ctx_(context_length), reuse_(prefix_reuse) {
  if (ctx_ <= 0) throw Error("context length must be positive");
  seq_ = engine_.model().new_sequence(ctx_, kv_type);
}

int64_t EngineLogitsModel::vocab_size() const { return engine_.config().vocab_size; }

void EngineLogitsModel::logits(const std::vector<int32_t>& tokens, int64_t from, std::vector<float>& out) {
  const int64_t n = int64_t(tokens.size());
  if (from < 0 || from >= n) throw Error("logits: first requested position is outside the sequence");
  if (n > ctx_) throw Error("logits: sequence of " + std::to_string(n) + " tokens exceeds the context (" + std::to_string(ctx_) + ")");
  int64_t keep = 0;
  if (reuse_) {
    const int64_t m = std::min<int64_t>(int64_t(cached_.size()), n);
    while (keep < m && cached_[size_t(keep)] == tokens[size_t(keep)]) ++keep;
  }
  // Positions whose logits are wanted must be computed now.
  keep = std::min(keep, from);
  Transformer& tf = engine_.model();
  seq_.n_past = keep;
  cached_.resize(size_t(keep));
  if (from > keep) {
    tf.forward(seq_, tokens.data() + keep, from - keep, LogitsMode::None, scratch_);
  }
  const int64_t rows = n - from;
  // One row: Last avoids the LM head over every fed token (151k columns for Qwen2.5).
  tf.forward(seq_, tokens.data() + from, rows, rows == 1 ? LogitsMode::Last : LogitsMode::All, out);
  evaluated_ += n - keep;
  cached_.assign(tokens.begin(), tokens.end());
}

}  // namespace qbench
