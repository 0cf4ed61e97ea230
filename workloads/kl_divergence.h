#pragma once
// KL divergence of a (quantized) model's next-token distributions from a baseline's,
// on the same text and windows (the fidelity numbers llama.cpp's perplexity tool reports).
//
// The baseline run stores, per scored token, its top-k log-probabilities plus the
// remaining mass (a .qbl file; k = 32 by default). KL is then computed between the
// (k+1)-bin distributions {top-k ids of the baseline, "everything else"}:
//   KL = sum_{i in top-k} p_i (log p_i - log q_i) + p_rest (log p_rest - log q_rest).
// By the data-processing inequality this never exceeds the full-vocabulary KL, and it
// equals it when the tail carries negligible mass (or k = vocab). llama.cpp instead
// stores all logits as 16-bit values; top-k keeps the file at ~k*8 bytes per token.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace qbench {

struct TokenDist {
  int64_t pos = 0;
  int32_t token = 0;          // the token actually in the text at pos
  float token_logprob = 0;    // baseline log p(token)
  std::vector<int32_t> ids;   // top-k ids, most probable first
  std::vector<float> logprobs;
};

// Top-k of one logit row (k clamped to vocab); ties keep the lower id first.
TokenDist make_token_dist(int64_t pos, int32_t token, const float* logits, int64_t vocab, int k);

// KL(base || test) over the (k+1)-bin coarse-graining above; `test_logprobs` = log_softmax of the test row.
double kl_topk(const TokenDist& base, const std::vector<double>& test_logprobs);

struct LogitsFileHeader {
  int64_t vocab = 0, ctx = 0, stride = 0, text_tokens = 0;
  int32_t k = 0;
  uint64_t text_hash = 0;  // FNV-1a of the text's token ids: a --kl-base run must use the same text
};

uint64_t hash_tokens(const std::vector<int32_t>& ids);

// Binary little-endian file; see kl_divergence.cpp for the layout. Throws qbench::Error naming the file.
void write_logits_file(const std::string& path, const LogitsFileHeader& h, const std::vector<TokenDist>& d);
std::vector<TokenDist> read_logits_file(const std::string& path, LogitsFileHeader& h);

struct KlStats {
  int64_t n = 0;
  double mean = 0, mean_se = 0, median = 0, p99 = 0, max = 0;
  double top1_agreement = 0;    // test argmax == baseline argmax
  double base_ppl = 0, test_ppl = 0, delta_ppl = 0;
  nlohmann::json to_json() const;
};

// kl[i], agree[i], base token log-prob, test token log-prob per scored token.
KlStats summarize_kl(const std::vector<double>& kl, const std::vector<bool>& top1_agree, const std::vector<double>& base_token_lp,
                     const std::vector<double>& test_token_lp);

}  // namespace qbench
