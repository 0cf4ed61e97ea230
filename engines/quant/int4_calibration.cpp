#include "engines/quant/int4_calibration.h"

#include <Eigen/Core>
#include <memory>

#include "engines/core/error.h"
#include "engines/cpu/ops_cpu.h"
#include "engines/formats/hf_checkpoint.h"
#include "engines/formats/hf_weights.h"
#include "engines/model/transformer.h"

namespace qbench::quant {

std::vector<float> InputStats::abs_mean() const {
  std::vector<float> m(abs_sum.size());
  for (size_t i = 0; i < m.size(); ++i) m[i] = rows ? float(abs_sum[i] / double(rows)) : 0.f;
  return m;
}

const InputStats& LayerInputStats::for_linear(const std::string& n) const {
  if (n == "q_proj" || n == "k_proj" || n == "v_proj") return attn_in;
  if (n == "o_proj") return o_in;
  if (n == "gate_proj" || n == "up_proj") return mlp_in;
  if (n == "down_proj") return down_in;
  throw Error("calibration: no statistics for linear '" + n + "'");
}

namespace {

// A dense Linear that also records its inputs when given statistics to fill.
class RecordingLinear final : public Linear {
 public:
  RecordingLinear(std::unique_ptr<Linear> inner, InputStats* stats)
      : Linear(inner->in_features(), inner->out_features()), inner_(std::move(inner)), stats_(stats) {}

  void forward(const float* x, float* y, int64_t n) const override {
    if (stats_) {
      using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
      using MatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
      Eigen::Map<const RowMat> X(x, n, in_);
      const MatD Xd = X.cast<double>();
      Eigen::Map<MatD> H(stats_->h.data(), in_, in_);
      H.noalias() += Xd.transpose() * Xd;
      for (int64_t t = 0; t < n; ++t)
        for (int64_t i = 0; i < in_; ++i) stats_->abs_sum[size_t(i)] += std::abs(double(x[t * in_ + i]));
      stats_->rows += n;
    }
    inner_->forward(x, y, n);
  }
  void gather_rows(const int32_t* ids, int64_t n, float* out) const override { inner_->gather_rows(ids, n, out); }
  uint64_t weight_bytes() const override { return inner_->weight_bytes(); }
  std::string kind() const override { return inner_->kind(); }

 private:
  std::unique_ptr<Linear> inner_;
  InputStats* stats_;
};

void init(InputStats& s, int64_t in) {
  s.in = in;
  s.h.assign(size_t(in * in), 0.0);
  s.abs_sum.assign(size_t(in), 0.0);
}

}  // namespace

std::vector<LayerInputStats> collect_input_stats(const std::string& model_dir, const std::vector<std::vector<int32_t>>& seqs,
                                                 int64_t first, int64_t last) {
  auto ckpt = std::make_shared<HfCheckpoint>(model_dir);
  ModelConfig cfg = ckpt->config();
  if (first < 0 || last > cfg.num_layers || first >= last) throw Error("calibration: bad layer range");
  std::vector<LayerInputStats> stats(size_t(last - first));
  const int64_t h = cfg.hidden_size, qd = cfg.num_heads * cfg.head_dim;
  for (auto& s : stats) init(s.attn_in, h), init(s.o_in, qd), init(s.mlp_in, h), init(s.down_in, cfg.intermediate_size);
  ModelWeights w = build_hf_weights(*ckpt, cfg, [&](const std::string& prefix, int64_t in, int64_t out) -> std::unique_ptr<Linear> {
    auto dense = dense_linear_from(*ckpt, prefix, in, out);
    // prefix = model.layers.N.<block>.<name>; only the first linear of a shared input records.
    const size_t a = prefix.find("layers.") + 7, b = prefix.find('.', a);
    const int64_t layer = std::stoll(prefix.substr(a, b - a));
    const std::string name = prefix.substr(prefix.rfind('.') + 1);
    InputStats* s = nullptr;
    if (layer >= first && layer < last) {
      auto& L = stats[size_t(layer - first)];
      if (name == "q_proj") s = &L.attn_in;
      else if (name == "o_proj") s = &L.o_in;
      else if (name == "gate_proj") s = &L.mlp_in;
      else if (name == "down_proj") s = &L.down_in;
    }
    return std::make_unique<RecordingLinear>(std::move(dense), s);
  });
  w.keep_alive.push_back(ckpt);
  Transformer model(cfg, std::move(w), make_cpu_ops(), 512);
  std::vector<float> logits;
  for (const auto& ids : seqs) {
    if (ids.empty()) continue;
    Sequence s = model.new_sequence(int64_t(ids.size()), KvType::F32);
    model.forward(s, ids.data(), int64_t(ids.size()), LogitsMode::None, logits);
  }
  return stats;
}

}  // namespace qbench::quant
