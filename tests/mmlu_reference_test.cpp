// Letter logits of 5-shot MMLU-Redux prompts on the tiny-qwen2 FP16 fixture, computed
// by qbench (with prefix reuse) against transformers (tests/data/mmlu_reference/).
// prompts.json holds the prompt ids qbench builds (regenerate: QBENCH_WRITE_MMLU_PROMPTS=1);
// expected.json is written from them by make_expected.py on a machine with transformers.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "engines/registry/registry.h"
#include "harness/measure/atomic_file.h"
#include "tests/support/reference_fixture.h"
#include "tests/support/test_paths.h"
#include "workloads/mmlu.h"

using namespace qbench;

namespace {

// A handful of questions: the first two of four subjects, one per MMLU category.
McDataset reference_questions() {
  McDataset d = load_mc_dataset(test::shared_dir() + "/datasets/mmlu-redux",
                                {"abstract_algebra", "high_school_geography", "philosophy", "virology"});
  for (auto& s : d.subjects) s.test.resize(2);
  return d;
}

}  // namespace

TEST_CASE("MMLU letter logits of tiny-qwen2 match transformers", "[mmlu][reference]") {
  if (!test::require_shared("fixtures/tiny-qwen2/hf-fp16/model.safetensors")) return;
  if (!test::require_shared("datasets/mmlu-redux/test")) return;
  LoadOptions lo;
  lo.path = test::tiny_fixture_dir() + "/hf-fp16";
  auto e = load_engine(lo);
  const McDataset data = reference_questions();
  const McPromptStyle st{McLayout::Hendrycks, false};
  const LetterTokens letters = resolve_letter_tokens(e->tokenizer(), " ");
  nlohmann::json prompts = {{"letter_token_ids", letters.ids}, {"shots", 5}, {"questions", nlohmann::json::array()}};
  for (auto& s : data.subjects)
    for (size_t i = 0; i < s.test.size(); ++i)
      prompts["questions"].push_back({{"subject", s.name}, {"index", i}, {"prompt_ids", e->tokenizer().encode(mc_prompt(st, s, 5, s.test[i]), false)}});

  const std::string dir = test::repo_root() + "/tests/data/mmlu_reference";
  if (std::getenv("QBENCH_WRITE_MMLU_PROMPTS")) write_file_atomic(dir + "/prompts.json", prompts.dump() + "\n");
  std::ifstream pf(dir + "/prompts.json");
  REQUIRE(pf);
  const nlohmann::json committed = nlohmann::json::parse(pf);
  // The prompts qbench builds today are the ones the expected values were computed from.
  CHECK(committed == prompts);

  MmluParams p;
  p.progress = false;
  EngineLogitsModel lm(*e, 2048, KvType::F32, /*prefix_reuse=*/true);
  const MmluResult r = run_mmlu(lm, e->tokenizer(), data, p);
  REQUIRE(r.questions.size() == 8);
  for (size_t i = 0; i < r.questions.size(); ++i)
    CHECK(r.questions[i].prompt_tokens == int64_t(prompts["questions"][i]["prompt_ids"].size()));

  if (!std::filesystem::exists(dir + "/expected.json")) {
    WARN("skipped the transformers comparison: " << dir << "/expected.json is absent; produce it with make_expected.py "
         "(see its docstring) on a machine with transformers");
    return;
  }
  std::ifstream ef(dir + "/expected.json");
  const nlohmann::json expected = nlohmann::json::parse(ef);
  REQUIRE(expected["letter_token_ids"] == nlohmann::json(r.letters.ids));
  REQUIRE(expected["questions"].size() == r.questions.size());
  double worst = 0;
  for (size_t i = 0; i < r.questions.size(); ++i) {
    const auto& want = expected["questions"][i];
    REQUIRE(want["subject"] == r.questions[i].subject);
    for (int c = 0; c < 4; ++c)
      worst = std::max(worst, std::fabs(double(r.questions[i].letter_logits[size_t(c)]) - want["letter_logits"][size_t(c)].get<double>()));
  }
  INFO("worst letter-logit difference vs transformers: " << worst);
  // Fixture README: independent float32 implementations agree to ~1e-5; bound 1e-4.
  CHECK(worst <= 1e-4);
}
