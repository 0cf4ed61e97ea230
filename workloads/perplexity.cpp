#include "workloads/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "engines/core/error.h"
#include "workloads/accuracy_stats.h"
#include "workloads/progress.h"

namespace qbench {

nlohmann::json PplParams::to_json() const {
  return {{"ctx", ctx}, {"stride", stride ? stride : ctx}, {"max_windows", max_windows}};
}

void log_softmax(const float* logits, int64_t vocab, std::vector<double>& out) {
  out.resize(size_t(vocab));
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t v = 0; v < vocab; ++v) m = std::max(m, double(logits[v]));
  double z = 0;
  for (int64_t v = 0; v < vocab; ++v) z += std::exp(double(logits[v]) - m);
  const double lz = m + std::log(z);
  for (int64_t v = 0; v < vocab; ++v) out[size_t(v)] = double(logits[v]) - lz;
}

std::vector<std::pair<int64_t, int64_t>> ppl_windows(int64_t n, int64_t ctx, int64_t stride) {
  if (ctx < 2) throw Error("--ctx must be at least 2 tokens");
  if (stride <= 0 || stride > ctx) throw Error("--stride must be in [1, ctx]");
  std::vector<std::pair<int64_t, int64_t>> w;
  for (int64_t b = 0; b + 1 < n; b += stride) {
    const int64_t e = std::min(b + ctx, n);
    w.push_back({b, e});
    if (e == n) break;
  }
  return w;
}

PplResult run_perplexity(McLogitsModel& model, const std::vector<int32_t>& tokens, const PplParams& params,
                         const ScoredTokenFn& on_token) {
  PplResult r;
  r.params = params;
  const int64_t n = int64_t(tokens.size()), ctx = params.ctx, stride = params.stride ? params.stride : params.ctx;
  if (ctx > model.context_length())
    throw Error("--ctx " + std::to_string(ctx) + " exceeds the model's context (" + std::to_string(model.context_length()) + ")");
  r.text_tokens = n;
  if (n < 2) throw Error("the text has " + std::to_string(n) + " tokens; perplexity needs at least 2");
  auto wins = ppl_windows(n, ctx, stride);
  if (params.max_windows > 0 && int64_t(wins.size()) > params.max_windows) wins.resize(size_t(params.max_windows));
  const int64_t V = model.vocab_size(), eval0 = model.tokens_evaluated();
  std::vector<float> rows;
  std::vector<double> lp;
  Progress prog(params.progress);
  const auto t0 = std::chrono::steady_clock::now();
  int64_t scored_until = 0;  // tokens [0, scored_until] have been predicted or are position 0
  for (auto [b, e] : wins) {
    // Predict tokens [first, e) from positions [first - 1, e - 1).
    const int64_t first = std::max(b + 1, scored_until + 1);
    if (first >= e) continue;
    const std::vector<int32_t> window(tokens.begin() + b, tokens.begin() + (e - 1));
    model.logits(window, first - 1 - b, rows);
    for (int64_t t = first; t < e; ++t) {
      const float* row = rows.data() + size_t(t - first) * size_t(V);
      log_softmax(row, V, lp);
      const int32_t tok = tokens[size_t(t)];
      if (tok < 0 || tok >= V) throw Error("token id " + std::to_string(tok) + " is outside the vocabulary");
      r.nll.push_back(-lp[size_t(tok)]);
      if (on_token) on_token(t, tok, row, V);
    }
    scored_until = e - 1;
    ++r.windows;
    prog.update("perplexity", r.windows, int64_t(wins.size()));
  }
  prog.finish();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.tokens_evaluated = model.tokens_evaluated() - eval0;
  r.scored = int64_t(r.nll.size());
  double sum = 0;
  for (double x : r.nll) sum += x;
  r.mean_nll = sum / double(r.scored);
  double ss = 0;
  for (double x : r.nll) ss += (x - r.mean_nll) * (x - r.mean_nll);
  r.nll_se = r.scored > 1 ? std::sqrt(ss / double(r.scored - 1) / double(r.scored)) : 0.0;
  r.ppl = std::exp(r.mean_nll);
  r.ppl_error = r.ppl * r.nll_se;
  r.ppl_lo = std::exp(r.mean_nll - kZ95 * r.nll_se);
  r.ppl_hi = std::exp(r.mean_nll + kZ95 * r.nll_se);
  return r;
}

nlohmann::json PplResult::to_json() const {
  return {{"workload", "perplexity"},
          {"params", params.to_json()},
          {"text_tokens", text_tokens},
          {"scored_tokens", scored},
          {"windows", windows},
          {"mean_nll", mean_nll},
          {"nll_standard_error", nll_se},
          {"perplexity", ppl},
          {"perplexity_error", ppl_error},
          {"perplexity_ci95", {ppl_lo, ppl_hi}},
          {"speed", {{"seconds", seconds}, {"tokens_evaluated", tokens_evaluated},
                     {"tokens_per_s", seconds > 0 ? double(tokens_evaluated) / seconds : 0.0}}}};
}

}  // namespace qbench
