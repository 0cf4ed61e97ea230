#pragma once
// --baseline: compares an MMLU run with an earlier one (usually the FP16 model) on the
// questions both answered: accuracy change in points with a paired 95% interval,
// McNemar's exact test, answer agreement, and the list of flipped questions.
#include <string>

#include <nlohmann/json.hpp>

#include "workloads/mmlu.h"

namespace qbench {

// `baseline` is a whole result file (envelope) written by `qbench eval mmlu`; `where` names it
// in errors. Questions are matched by (subject, index); a mismatch of the gold answer or of
// the scoring method is an error (the runs would not be comparable).
nlohmann::json compare_mmlu_to_baseline(const nlohmann::json& baseline, const std::string& where, const MmluResult& cand);

}  // namespace qbench
