#pragma once
// Perplexity of a text under the model, with sliding windows (as transformers'
// perplexity guide): windows of `ctx` tokens start every `stride` tokens; each
// window scores only the tokens no earlier window scored (all but the first token of
// the first window), so every scored token sees at least ctx - stride tokens of context
// (stride = ctx: plain non-overlapping chunks, whose first tokens have no context and are
// not scored; stride = ctx/2: every token after the first scored with >= ctx/2 of context,
// llama.cpp's "second half" rule except that the first window scores all its tokens).
// PPL = exp(mean NLL); its uncertainty is the standard error of the mean NLL, reported as
// ppl * SE (llama.cpp's "±") and as a 95% interval exp(mean ± 1.96 SE).
#include <cstdint>
#include <functional>
#include <vector>

#include <nlohmann/json.hpp>

#include "workloads/mmlu_logits_model.h"

namespace qbench {

struct PplParams {
  int64_t ctx = 512;
  int64_t stride = 0;       // 0 = ctx
  int64_t max_windows = 0;  // 0 = all
  bool progress = true;
  nlohmann::json to_json() const;
};

// Called for every scored position: `pos` is the index (in the text's tokens) of the token
// being predicted, `logits` the model's logits predicting it.
using ScoredTokenFn = std::function<void(int64_t pos, int32_t token, const float* logits, int64_t vocab)>;

struct PplResult {
  PplParams params;
  int64_t text_tokens = 0, scored = 0, windows = 0;
  double mean_nll = 0, nll_se = 0, ppl = 0, ppl_error = 0, ppl_lo = 0, ppl_hi = 0;
  std::vector<double> nll;  // per scored token
  double seconds = 0;
  int64_t tokens_evaluated = 0;
  nlohmann::json to_json() const;
};

// The scored positions of a text of n tokens, in order (exposed for tests).
std::vector<std::pair<int64_t, int64_t>> ppl_windows(int64_t n, int64_t ctx, int64_t stride);  // [begin, end) per window

PplResult run_perplexity(McLogitsModel& model, const std::vector<int32_t>& tokens, const PplParams& params,
                         const ScoredTokenFn& on_token = {});

// log-softmax of one row, in double.
void log_softmax(const float* logits, int64_t vocab, std::vector<double>& out);

}  // namespace qbench
