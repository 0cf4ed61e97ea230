#include "workloads/mmlu_scoring.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engines/core/error.h"

namespace qbench {

LetterTokens resolve_letter_tokens(const Tokenizer& tok, const std::string& delimiter) {
  auto single_ids = [&](const std::string& pre, LetterTokens& out) {
    for (int c = 0; c < 4; ++c) {
      const std::string text = pre + char('A' + c);
      const std::vector<int32_t> ids = tok.encode(text, false);
      if (ids.size() != 1) return false;
      out.ids[size_t(c)] = ids[0];
      out.texts[size_t(c)] = text;
    }
    return true;
  };
  LetterTokens lt;
  if (single_ids(delimiter, lt)) return lt;
  lt = LetterTokens{};
  if (!delimiter.empty() && single_ids("", lt)) {
    lt.prompt_suffix = delimiter;
    return lt;
  }
  throw Error("the tokenizer has no single token for the answer letters ('" + delimiter + "A' or 'A'): letter scoring needs one; use --scoring continuation");
}

int argmax4(const std::array<double, 4>& v, bool* tie) {
  int best = 0;
  for (int c = 1; c < 4; ++c)
    if (v[size_t(c)] > v[size_t(best)]) best = c;
  if (tie) {
    *tie = false;
    for (int c = 0; c < 4; ++c)
      if (c != best && v[size_t(c)] == v[size_t(best)]) *tie = true;
  }
  return best;
}

LetterScore score_letters(const float* row, int64_t vocab, const std::array<int32_t, 4>& ids) {
  LetterScore s;
  std::array<double, 4> l{};
  for (int c = 0; c < 4; ++c) {
    const int32_t id = ids[size_t(c)];
    if (id < 0 || id >= vocab) throw Error("answer letter token id " + std::to_string(id) + " is outside the vocabulary");
    s.logits[size_t(c)] = row[id];
    l[size_t(c)] = double(row[id]);
  }
  s.pred = argmax4(l, &s.tie);
  const double m = *std::max_element(l.begin(), l.end());
  double z = 0;
  for (int c = 0; c < 4; ++c) z += std::exp(l[size_t(c)] - m);
  for (int c = 0; c < 4; ++c) s.probs[size_t(c)] = std::exp(l[size_t(c)] - m) / z;
  return s;
}

double continuation_logprob(const float* rows, int64_t vocab, const std::vector<int32_t>& cont) {
  double total = 0;
  for (size_t j = 0; j < cont.size(); ++j) {
    const float* r = rows + j * size_t(vocab);
    if (cont[j] < 0 || cont[j] >= vocab) throw Error("continuation token id outside the vocabulary");
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t v = 0; v < vocab; ++v) m = std::max(m, double(r[v]));
    double z = 0;
    for (int64_t v = 0; v < vocab; ++v) z += std::exp(double(r[v]) - m);
    total += double(r[cont[j]]) - m - std::log(z);
  }
  return total;
}

}  // namespace qbench
