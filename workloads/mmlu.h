#pragma once
// The MMLU-style k-shot accuracy workload: for every test question of every
// subject, build the k-shot prompt, score the four answers, and report accuracy
// per subject, per category, micro and macro, each with a 95% interval, plus every
// question's prediction and letter probabilities (so two runs compare question by question).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/mmlu/mc_dataset.h"
#include "datasets/tokenizer/tokenizer.h"
#include "workloads/mmlu_logits_model.h"
#include "workloads/mmlu_prompt.h"
#include "workloads/mmlu_scoring.h"

namespace qbench {

enum class McScoring { Letter, Continuation };
McScoring parse_mc_scoring(const std::string& s);  // "letter" | "continuation"
const char* mc_scoring_name(McScoring s);

struct MmluParams {
  int shots = 5;
  int64_t limit = 0;  // questions per subject, 0 = all
  McScoring scoring = McScoring::Letter;
  bool chat_template = false;
  bool progress = true;
  nlohmann::json to_json() const;
};

struct MmluQuestionResult {
  std::string subject, category;
  int64_t index = 0;  // row in the subject's test file (0-based)
  int64_t line = 0;
  int answer = 0, pred = 0;
  bool correct = false, tie = false, truncated = false;
  int shots = 0;              // few-shot examples actually used (reduced to fit the context)
  int64_t prompt_tokens = 0;
  std::array<float, 4> letter_logits{};  // letter scoring
  std::array<double, 4> probs{};         // softmax over the four scores
  std::array<double, 4> cont_logprob{};  // continuation scoring: sum of log-probs
  std::array<int64_t, 4> cont_tokens{};  // continuation scoring: tokens per answer
};

struct MmluResult {
  MmluParams params;
  McLayout layout = McLayout::Hendrycks;
  std::string data_dir;
  LetterTokens letters;  // letter scoring only
  std::vector<MmluQuestionResult> questions;
  double seconds = 0;
  int64_t tokens_evaluated = 0, prompt_tokens_total = 0;
  int64_t context_length = 0;
  nlohmann::json to_json() const;
};

// `tok` must be the model's tokenizer.
MmluResult run_mmlu(McLogitsModel& model, const Tokenizer& tok, const McDataset& data, const MmluParams& params);

// Accuracy per subject and per category (pooled over its questions), micro (all questions)
// and macro (mean over subjects) averages, each with a 95% interval (accuracy_stats.h).
nlohmann::json mmlu_summary(const std::vector<MmluQuestionResult>& qs);

}  // namespace qbench
