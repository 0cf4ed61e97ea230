#include "workloads/mmlu_prompt.h"

#include <algorithm>

#include "datasets/mmlu/subject_categories.h"
#include "datasets/tokenizer/tokenizer.h"

namespace qbench {

std::string mc_header(const McPromptStyle& st, const std::string& subject) {
  if (st.layout == McLayout::Cmmlu) return "以下是关于" + cmmlu_subject_zh(subject) + "的单项选择题，请直接给出正确答案的选项。\n\n";
  return "The following are multiple choice questions (with answers) about " + subject_display_name(subject) + ".\n\n";
}

std::string mc_format_question(const McPromptStyle& st, const McQuestion& q, bool with_answer) {
  const bool zh = st.layout == McLayout::Cmmlu;
  std::string s = zh ? "题目：" + q.question : q.question;
  for (int c = 0; c < 4; ++c) s += "\n" + std::string(1, char('A' + c)) + ". " + q.choices[size_t(c)];
  s += zh ? "\n答案是：" : "\nAnswer:";
  if (with_answer) s += st.answer_delimiter() + std::string(1, char('A' + q.answer)) + "\n\n";
  return s;
}

std::string mc_fewshot_prefix(const McPromptStyle& st, const McSubject& s, int shots) {
  std::string p = mc_header(st, s.name);
  const int k = std::min<int>(shots, int(s.dev.size()));
  for (int i = 0; i < k; ++i) p += mc_format_question(st, s.dev[size_t(i)], true);
  return p;
}

std::string mc_prompt(const McPromptStyle& st, const McSubject& s, int shots, const McQuestion& q) {
  std::string text = mc_fewshot_prefix(st, s, shots) + mc_format_question(st, q, false);
  if (!st.chat_template) return text;
  // No default system prompt: the prefix stays the same for every question either way.
  return apply_chatml({{"user", text}}, /*add_generation_prompt=*/true, /*default_system=*/"");
}

}  // namespace qbench
