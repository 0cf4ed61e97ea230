#include "workloads/mmlu_baseline.h"

#include <map>

#include "engines/core/error.h"
#include "workloads/accuracy_stats.h"

namespace qbench {

nlohmann::json compare_mmlu_to_baseline(const nlohmann::json& baseline, const std::string& where, const MmluResult& cand) {
  const nlohmann::json* w = baseline.contains("workload") ? &baseline["workload"] : nullptr;
  if (!w || !w->is_object() || w->value("workload", "") != "mmlu" || !w->contains("questions") || !(*w)["questions"].is_array())
    throw Error(where + ": not an MMLU result (workload.workload must be \"mmlu\" with a questions list)");
  const std::string base_scoring = (*w).value("scoring", nlohmann::json::object()).value("method", "");
  if (base_scoring != mc_scoring_name(cand.params.scoring))
    throw Error(where + ": baseline used scoring '" + base_scoring + "', this run '" + mc_scoring_name(cand.params.scoring) + "'");
  struct Base {
    std::string answer, pred;
  };
  std::map<std::pair<std::string, int64_t>, Base> base;
  for (auto& q : (*w)["questions"]) {
    if (!q.is_object() || !q.contains("subject") || !q.contains("index") || !q.contains("answer") || !q.contains("pred"))
      throw Error(where + ": a question entry lacks subject/index/answer/pred");
    base[{q["subject"].get<std::string>(), q["index"].get<int64_t>()}] = {q["answer"].get<std::string>(), q["pred"].get<std::string>()};
  }
  std::vector<bool> b_ok, c_ok;
  int64_t agree = 0;
  nlohmann::json flipped = nlohmann::json::array();
  for (auto& q : cand.questions) {
    auto it = base.find({q.subject, q.index});
    if (it == base.end()) continue;
    const std::string ans(1, char('A' + q.answer)), pred(1, char('A' + q.pred));
    if (it->second.answer != ans)
      throw Error(where + ": question " + q.subject + "#" + std::to_string(q.index) + " has gold answer " + it->second.answer +
                  " there but " + ans + " here: different datasets");
    b_ok.push_back(it->second.pred == ans);
    c_ok.push_back(q.correct);
    agree += it->second.pred == pred;
    if (it->second.pred != pred)
      flipped.push_back({{"subject", q.subject}, {"index", q.index}, {"answer", ans}, {"baseline_pred", it->second.pred},
                         {"pred", pred}, {"change", b_ok.back() == c_ok.back() ? "wrong->wrong"
                                                                : (c_ok.back() ? "wrong->right" : "right->wrong")}});
  }
  if (b_ok.empty()) throw Error(where + ": shares no question (subject, index) with this run");
  const PairedComparison pc = paired_comparison(b_ok, c_ok);
  nlohmann::json j = pc.to_json();
  j["baseline_file"] = where;
  if (baseline.contains("model") && baseline["model"].is_object()) j["baseline_model"] = baseline["model"].value("backend", "");
  j["unmatched_questions"] = int64_t(cand.questions.size()) - pc.n;
  j["answer_agreement"] = double(agree) / double(pc.n);
  j["flipped"] = flipped;
  return j;
}

}  // namespace qbench
