#pragma once
// Prompts for MMLU-format questions, as the field builds them.
//  MMLU (Hendrycks' evaluate.py, lm-evaluation-harness `mmlu`):
//    "The following are multiple choice questions (with answers) about {subject}.\n\n"
//    then k dev examples "{question}\nA. {a}\nB. {b}\nC. {c}\nD. {d}\nAnswer: {X}\n\n"
//    then the question, ending "Answer:". (Hendrycks' code writes " about  abstract algebra"
//    with two spaces; lm-eval and we write one.)
//  CMMLU (its src/mp_utils.py): "以下是关于{中文科目}的单项选择题，请直接给出正确答案的选项。\n\n",
//    examples "题目：{question}\nA. {a}\n...\nD. {d}\n答案是：{X}\n\n", question ending "答案是：".
//  --chat-template: the whole text above becomes one user turn of Qwen's ChatML and the
//    answer letter follows "<|im_start|>assistant\n" directly.
#include <string>

#include "datasets/mmlu/mc_dataset.h"

namespace qbench {

struct McPromptStyle {
  McLayout layout = McLayout::Hendrycks;
  bool chat_template = false;
  // Text between the prompt and the answer letter in the few-shot examples:
  // " " for MMLU ("Answer: A"), "" for CMMLU ("答案是：A").
  std::string answer_delimiter() const { return layout == McLayout::Hendrycks ? " " : ""; }
};

std::string mc_header(const McPromptStyle& st, const std::string& subject);
// One question; with_answer appends the delimiter, the letter and "\n\n" (a few-shot example).
std::string mc_format_question(const McPromptStyle& st, const McQuestion& q, bool with_answer);
// Header + the first `shots` dev examples (the part shared by every question of a subject).
std::string mc_fewshot_prefix(const McPromptStyle& st, const McSubject& s, int shots);
// The full text whose last position predicts the answer letter.
std::string mc_prompt(const McPromptStyle& st, const McSubject& s, int shots, const McQuestion& q);

}  // namespace qbench
