// Questions/second of 5-shot MMLU letter scoring, with and without prefix reuse
// (the few-shot header shared by a subject's questions computed once and kept in
// the KV cache), on a synthetic Qwen2.5 shape (random weights, real tokenizer) on CPU.
// Both runs must give the same answers (exit 1 otherwise); the speed-up is reported next
// to the ratio of tokens computed without and with reuse (what it should roughly track).
// Run from the repository root:
//   bench_mmlu_prefix [--shape qwen2.5-0.5b] [--models-dir models] [--data datasets/samples/mmlu]
//                     [--subjects a,b] [--limit 10] [--shots 5] [--threads N] [--json FILE]
#include <omp.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "datasets/mmlu/mc_dataset.h"
#include "bench/bench_common.h"
#include "engines/core/error.h"
#include "engines/formats/synthetic_checkpoint.h"
#include "engines/model/shape_catalog.h"
#include "engines/registry/registry.h"
#include "harness/measure/atomic_file.h"
#include "harness/measure/sysinfo.h"
#include "workloads/mmlu.h"

using namespace qbench;

namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string x; std::getline(ss, x, ',');)
    if (!x.empty()) out.push_back(x);
  return out;
}

}  // namespace

int main(int argc, char** argv) try {
  const std::string shape = arg(argc, argv, "shape", "qwen2.5-0.5b");
  const std::string models = arg(argc, argv, "models-dir", "models");
  const std::string tokenizer = arg(argc, argv, "tokenizer", "third_party/qwen2.5-tokenizer/tokenizer.json");
  const int threads = std::stoi(arg(argc, argv, "threads", "0"));
  if (threads > 0) omp_set_num_threads(threads);

  const std::string dir = models + "/synthetic-" + shape + "-tok";
  if (!std::filesystem::exists(dir + "/config.json")) {
    if (!std::filesystem::exists(tokenizer)) throw Error(tokenizer + ": missing (run scripts/setup.sh, or pass --tokenizer)");
    std::fprintf(stderr, "writing synthetic %s with the Qwen2.5 tokenizer to %s...\n", shape.c_str(), dir.c_str());
    SyntheticOptions o;
    o.out_dir = dir;
    o.seed = 1;
    o.tokenizer_json = tokenizer;
    write_synthetic_checkpoint(shape_config(shape), o);
  }
  LoadOptions lo;
  lo.path = dir;
  lo.threads = threads;
  auto engine = load_engine(lo);

  const McDataset data = load_mc_dataset(arg(argc, argv, "data", "datasets/samples/mmlu"), split(arg(argc, argv, "subjects", "")));
  MmluParams p;
  p.shots = std::stoi(arg(argc, argv, "shots", "5"));
  p.limit = std::stoll(arg(argc, argv, "limit", "0"));
  p.progress = false;

  std::printf("5-shot MMLU letter scoring, %s (synthetic weights), %d threads, %lld questions in %zu subjects\n",
              shape.c_str(), omp_get_max_threads(), (long long)[&] {
                int64_t n = 0;
                for (auto& s : data.subjects) n += p.limit ? std::min<int64_t>(p.limit, int64_t(s.test.size())) : int64_t(s.test.size());
                return n;
              }(), data.subjects.size());
  std::printf("%-14s %12s %14s %16s %10s\n", "prefix reuse", "questions/s", "prompt tokens", "tokens computed", "seconds");
  nlohmann::json rows = nlohmann::json::array();
  std::vector<MmluResult> results;
  for (bool reuse : {false, true}) {
    EngineLogitsModel lm(*engine, 2048, KvType::F16, reuse);
    results.push_back(run_mmlu(lm, engine->tokenizer(), data, p));
    const MmluResult& r = results.back();
    const double qps = double(r.questions.size()) / r.seconds;
    std::printf("%-14s %12.3f %14lld %16lld %10.2f\n", reuse ? "on" : "off", qps, (long long)r.prompt_tokens_total,
                (long long)r.tokens_evaluated, r.seconds);
    rows.push_back({{"prefix_reuse", reuse}, {"questions", r.questions.size()}, {"questions_per_s", qps}, {"seconds", r.seconds},
                    {"prompt_tokens", r.prompt_tokens_total}, {"tokens_evaluated", r.tokens_evaluated}});
  }
  int64_t same = 0;
  for (size_t i = 0; i < results[0].questions.size(); ++i) same += results[0].questions[i].pred == results[1].questions[i].pred;
  const double speedup = results[0].seconds / results[1].seconds;
  const double bound = double(results[0].tokens_evaluated) / double(std::max<int64_t>(1, results[1].tokens_evaluated));
  std::printf("speed-up %.2fx (tokens computed ratio %.2fx); identical answers %lld/%zu\n", speedup, bound, (long long)same,
              results[0].questions.size());
  const std::string json = arg(argc, argv, "json", "");
  if (!json.empty())
    write_json_atomic(json, {{"benchmark", "mmlu_prefix"}, {"shape", shape}, {"threads", omp_get_max_threads()},
                             {"system", collect_system_info().to_json()}, {"rows", rows}, {"speedup", speedup},
                             {"token_ratio", bound}, {"identical_answers", same}});
  return same == int64_t(results[0].questions.size()) ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_mmlu_prefix: %s\n", e.what());
  return 1;
}
