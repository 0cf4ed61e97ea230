#pragma once
// Turning logits into an MMLU answer.
//  Letter scoring (Hendrycks' code, lm-eval `mmlu`): at the last prompt position compare
//  the logits of exactly four token ids, the answer letters as they follow the prompt
//  ("Answer:" + " A" -> the id of " A"; CMMLU and chat prompts -> the id of "A").
//  The prediction is the largest of the four logits; ties go to the earliest letter
//  (numpy.argmax), and are recorded. Probabilities are the softmax over the four.
//  Continuation scoring (lm-eval acc_norm-like, llama.cpp multiple-choice): the mean
//  log-probability per token of each full answer text after the prompt.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/tokenizer/tokenizer.h"

namespace qbench {

struct LetterTokens {
  std::array<int32_t, 4> ids{};
  std::array<std::string, 4> texts;  // the text each id stands for, e.g. " A"
  std::string prompt_suffix;         // appended to the prompt before scoring ("" or " ")
};

// The ids of delimiter+"A".."D" when each is a single token (" A" in Qwen2's vocabulary);
// otherwise the ids of bare "A".."D" with the delimiter moved into the prompt
// (prompt_suffix). Throws qbench::Error when neither form is one token per letter.
LetterTokens resolve_letter_tokens(const Tokenizer& tok, const std::string& delimiter);

struct LetterScore {
  int pred = 0;
  bool tie = false;  // the winning logit was shared by another letter
  std::array<float, 4> logits{};
  std::array<double, 4> probs{};
};
LetterScore score_letters(const float* logits_row, int64_t vocab, const std::array<int32_t, 4>& ids);

// Sum of log p(cont[j] | ...) where rows[j * vocab ...] are the logits predicting cont[j].
double continuation_logprob(const float* rows, int64_t vocab, const std::vector<int32_t>& cont);

// Index of the largest value; ties to the earliest.
int argmax4(const std::array<double, 4>& v, bool* tie = nullptr);

}  // namespace qbench
