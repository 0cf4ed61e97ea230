#include "workloads/mmlu.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>

#include "engines/core/error.h"
#include "workloads/accuracy_stats.h"
#include "workloads/progress.h"

namespace qbench {

McScoring parse_mc_scoring(const std::string& s) {
  if (s == "letter") return McScoring::Letter;
  if (s == "continuation") return McScoring::Continuation;
  throw Error("unknown scoring '" + s + "' (letter | continuation)");
}

const char* mc_scoring_name(McScoring s) { return s == McScoring::Letter ? "letter" : "continuation"; }

nlohmann::json MmluParams::to_json() const {
  return {{"shots", shots}, {"limit_per_subject", limit}, {"scoring", mc_scoring_name(scoring)},
          {"chat_template", chat_template}};
}

namespace {

std::string letter(int c) { return std::string(1, char('A' + c)); }

// Drops tokens from the left until `ids` has at most `max_len` tokens (Hendrycks' code
// keeps the last 2048 tokens the same way). Returns how many were dropped.
int64_t truncate_left(std::vector<int32_t>& ids, int64_t max_len) {
  const int64_t drop = std::max<int64_t>(0, int64_t(ids.size()) - max_len);
  ids.erase(ids.begin(), ids.begin() + drop);
  return drop;
}

struct Builder {
  const Tokenizer& tok;
  McPromptStyle style;
  McScoring scoring;
  LetterTokens letters;
  std::string cont_delim;  // text between the prompt and a full answer (continuation scoring)

  std::vector<int32_t> encode(const std::string& text) const { return tok.encode(text, style.chat_template); }
  std::string prompt_text(const McSubject& s, int k, const McQuestion& q) const {
    return mc_prompt(style, s, k, q) + (scoring == McScoring::Letter ? letters.prompt_suffix : "");
  }
};

}  // namespace

MmluResult run_mmlu(McLogitsModel& model, const Tokenizer& tok, const McDataset& data, const MmluParams& params) {
  if (params.shots < 0) throw Error("--shots must be >= 0");
  if (params.limit < 0) throw Error("--limit must be >= 0");
  MmluResult res;
  res.params = params;
  res.layout = data.layout;
  res.data_dir = data.root;
  res.context_length = model.context_length();
  Builder b{tok, {data.layout, params.chat_template}, params.scoring, {}, ""};
  // In a chat turn the answer starts the assistant message: no delimiter before it.
  const std::string delim = params.chat_template ? "" : b.style.answer_delimiter();
  if (params.scoring == McScoring::Letter) b.letters = resolve_letter_tokens(tok, delim);
  res.letters = b.letters;
  b.cont_delim = delim;
  const int64_t V = model.vocab_size(), ctx = model.context_length();
  const int64_t eval0 = model.tokens_evaluated();

  int64_t total = 0;
  for (auto& s : data.subjects) total += params.limit ? std::min<int64_t>(params.limit, int64_t(s.test.size())) : int64_t(s.test.size());
  Progress prog(params.progress);
  std::vector<float> rows;
  const auto t0 = std::chrono::steady_clock::now();
  for (const McSubject& s : data.subjects) {
    const int64_t n = params.limit ? std::min<int64_t>(params.limit, int64_t(s.test.size())) : int64_t(s.test.size());
    for (int64_t i = 0; i < n; ++i) {
      const McQuestion& q = s.test[size_t(i)];
      MmluQuestionResult r;
      r.subject = s.name;
      r.category = s.category;
      r.index = i;
      r.line = q.line;
      r.answer = q.answer;
      // Answer texts as they follow the prompt (continuation scoring), to size the context.
      int64_t longest_answer = 1;
      if (params.scoring == McScoring::Continuation)
        for (auto& c : q.choices) longest_answer = std::max<int64_t>(longest_answer, int64_t(b.encode(b.cont_delim + c).size()));
      // Fewer shots until the prompt (plus the longest answer) fits, as Hendrycks' code does.
      int k = std::min<int>(params.shots, int(s.dev.size()));
      std::string text = b.prompt_text(s, k, q);
      std::vector<int32_t> ids = b.encode(text);
      while (k > 0 && int64_t(ids.size()) + (params.scoring == McScoring::Continuation ? longest_answer : 0) > ctx) {
        --k;
        text = b.prompt_text(s, k, q);
        ids = b.encode(text);
      }
      r.shots = k;
      if (params.scoring == McScoring::Letter) {
        r.truncated = truncate_left(ids, ctx) > 0;
        r.prompt_tokens = int64_t(ids.size());
        model.logits(ids, int64_t(ids.size()) - 1, rows);
        const LetterScore sc = score_letters(rows.data(), V, b.letters.ids);
        r.pred = sc.pred;
        r.tie = sc.tie;
        r.letter_logits = sc.logits;
        r.probs = sc.probs;
      } else {
        // lm-eval's split: encode(prompt + answer); the answer is what follows the prompt's tokens.
        std::array<double, 4> mean{};
        r.prompt_tokens = int64_t(ids.size());
        for (int c = 0; c < 4; ++c) {
          std::vector<int32_t> whole = b.encode(text + b.cont_delim + q.choices[size_t(c)]);
          int64_t ctx_len = std::min<int64_t>(int64_t(ids.size()), int64_t(whole.size()));
          const std::vector<int32_t> cont(whole.begin() + ctx_len, whole.end());
          r.cont_tokens[size_t(c)] = int64_t(cont.size());
          if (cont.empty() || ctx_len == 0) {
            r.cont_logprob[size_t(c)] = mean[size_t(c)] = -std::numeric_limits<double>::infinity();
            continue;
          }
          whole.pop_back();  // the last answer token is predicted, never fed
          const int64_t dropped = truncate_left(whole, ctx);
          if (dropped >= ctx_len) throw Error(q.file + ":" + std::to_string(q.line) + ": answer " + letter(c) + " alone exceeds the context");
          r.truncated = r.truncated || dropped > 0;
          ctx_len -= dropped;
          model.logits(whole, ctx_len - 1, rows);
          r.cont_logprob[size_t(c)] = continuation_logprob(rows.data(), V, cont);
          mean[size_t(c)] = r.cont_logprob[size_t(c)] / double(cont.size());
        }
        r.pred = argmax4(mean, &r.tie);
        // probs: each full answer's probability, renormalised over the four.
        const double m = *std::max_element(r.cont_logprob.begin(), r.cont_logprob.end());
        double z = 0;
        for (double lp : r.cont_logprob) z += std::isfinite(lp) ? std::exp(lp - m) : 0.0;
        for (int c = 0; c < 4; ++c)
          r.probs[size_t(c)] = std::isfinite(r.cont_logprob[size_t(c)]) && z > 0 ? std::exp(r.cont_logprob[size_t(c)] - m) / z : 0.0;
      }
      r.correct = r.pred == r.answer;
      res.prompt_tokens_total += r.prompt_tokens;
      res.questions.push_back(std::move(r));
      prog.update("mmlu " + s.name, int64_t(res.questions.size()), total);
    }
  }
  prog.finish();
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  res.tokens_evaluated = model.tokens_evaluated() - eval0;
  return res;
}

nlohmann::json mmlu_summary(const std::vector<MmluQuestionResult>& qs) {
  struct Acc {
    std::string category;
    GroupCount count;
  };
  std::map<std::string, Acc> subj;
  for (auto& q : qs) {
    auto& a = subj[q.subject];
    a.category = q.category;
    a.count.total++;
    a.count.correct += q.correct;
  }
  nlohmann::json subjects = nlohmann::json::array();
  std::map<std::string, std::vector<GroupCount>> by_cat;
  std::vector<GroupCount> all_subjects;
  GroupCount micro;
  for (auto& [name, a] : subj) {
    const Interval ci = wilson_interval(a.count.correct, a.count.total);
    subjects.push_back({{"subject", name}, {"category", a.category}, {"questions", a.count.total}, {"correct", a.count.correct},
                        {"accuracy", ci.estimate}, {"ci95", {ci.lo, ci.hi}}});
    by_cat[a.category].push_back(a.count);
    all_subjects.push_back(a.count);
    micro.total += a.count.total;
    micro.correct += a.count.correct;
  }
  nlohmann::json cats = nlohmann::json::array();
  for (auto& [cat, groups] : by_cat) {
    GroupCount pooled;
    for (auto& g : groups) {
      pooled.total += g.total;
      pooled.correct += g.correct;
    }
    const Interval ci = wilson_interval(pooled.correct, pooled.total);
    const Interval mac = macro_average(groups);
    cats.push_back({{"category", cat}, {"subjects", groups.size()}, {"questions", pooled.total}, {"correct", pooled.correct},
                    {"accuracy", ci.estimate}, {"ci95", {ci.lo, ci.hi}}, {"macro_accuracy", mac.estimate},
                    {"macro_ci95", {mac.lo, mac.hi}}});
  }
  const Interval mi = wilson_interval(micro.correct, micro.total);
  const Interval ma = macro_average(all_subjects);
  return {{"micro", {{"questions", micro.total}, {"correct", micro.correct}, {"accuracy", mi.estimate}, {"ci95", {mi.lo, mi.hi}},
                     {"interval", "wilson"}}},
          {"macro", {{"subjects", all_subjects.size()}, {"accuracy", ma.estimate}, {"ci95", {ma.lo, ma.hi}},
                     {"interval", "normal, var = sum p(1-p)/n / S^2"}}},
          {"categories", cats},
          {"subjects", subjects}};
}

nlohmann::json MmluResult::to_json() const {
  nlohmann::json qj = nlohmann::json::array();
  for (auto& q : questions) {
    nlohmann::json j = {{"subject", q.subject}, {"category", q.category}, {"index", q.index}, {"line", q.line},
                        {"answer", letter(q.answer)}, {"pred", letter(q.pred)}, {"correct", q.correct}, {"tie", q.tie},
                        {"shots", q.shots}, {"prompt_tokens", q.prompt_tokens}, {"truncated", q.truncated},
                        {"probs", q.probs}};
    if (params.scoring == McScoring::Letter) j["letter_logits"] = q.letter_logits;
    else {
      nlohmann::json lp = nlohmann::json::array();
      for (double v : q.cont_logprob) lp.push_back(std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr));
      j["answer_logprob"] = lp;
      j["answer_tokens"] = q.cont_tokens;
    }
    qj.push_back(std::move(j));
  }
  nlohmann::json scoring = {{"method", mc_scoring_name(params.scoring)}};
  if (params.scoring == McScoring::Letter) {
    scoring["compared_token_ids"] = letters.ids;
    scoring["compared_token_texts"] = letters.texts;
    scoring["prompt_suffix"] = letters.prompt_suffix;
    scoring["rule"] = "argmax of the four letter-token logits at the last prompt position; ties to the earliest letter";
  } else {
    scoring["rule"] = "argmax of mean log-probability per token of each answer text after the prompt; ties to the earliest";
  }
  int64_t truncated = 0, reduced = 0;
  for (auto& q : questions) {
    truncated += q.truncated;
    reduced += q.shots < params.shots;
  }
  return {{"workload", "mmlu"},
          {"params", params.to_json()},
          {"dataset", {{"layout", mc_layout_name(layout)}, {"dir", data_dir}, {"questions", questions.size()}}},
          {"context_length", context_length},
          {"scoring", scoring},
          {"summary", mmlu_summary(questions)},
          {"speed", {{"seconds", seconds}, {"questions_per_s", seconds > 0 ? double(questions.size()) / seconds : 0.0},
                     {"prompt_tokens", prompt_tokens_total}, {"tokens_evaluated", tokens_evaluated},
                     {"reduced_shots", reduced}, {"truncated_prompts", truncated}}},
          {"questions", qj}};
}

}  // namespace qbench
