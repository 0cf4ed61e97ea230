// qbench eval: accuracy workloads.
//   qbench eval mmlu --model PATH --data DIR ...   k-shot multiple choice (MMLU, MMLU-Redux, CMMLU)
//   qbench eval ppl  --model PATH --text FILE ...  perplexity; --save-logits / --kl-base for KL divergence
#include <omp.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "datasets/mmlu/mc_dataset.h"
#include "engines/core/error.h"
#include "engines/registry/registry.h"
#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "harness/measure/atomic_file.h"
#include "harness/measure/result_envelope.h"
#include "workloads/kl_divergence.h"
#include "workloads/mmlu.h"
#include "workloads/mmlu_baseline.h"
#include "workloads/perplexity.h"

namespace qbench::cli {

namespace {

const char* kEvalUsage =
    "qbench eval mmlu --model PATH [--backend B] [--data DIR] [--shots 5] [--subjects a,b,...] [--limit N]\n"
    "  [--scoring letter|continuation] [--chat-template] [--ctx 2048] [--kv-type f16|f32] [--threads N]\n"
    "  [--no-prefix-reuse] [--baseline FP16_RESULT.json] [--quiet] --out FILE.json\n"
    "    DIR: Hendrycks layout (dev/<s>_dev.csv, test/<s>_test.csv) or CMMLU layout; default: the bundled sample\n"
    "qbench eval ppl --model PATH [--backend B] [--text FILE] [--ctx 512] [--stride N] [--max-chunks N]\n"
    "  [--kv-type f16|f32] [--threads N] [--save-logits FILE.qbl [--top-k 32]] [--kl-base FILE.qbl] [--quiet] [--out FILE.json]\n"
    "    FILE: UTF-8 text; default: the bundled sample text\n";

std::string source_path(const std::string& rel) { return (std::filesystem::path(QBENCH_SOURCE_DIR) / rel).string(); }

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error(path + ": cannot open");
  try {
    return nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not valid JSON (" + e.what() + ")");
  }
}

std::unique_ptr<Engine> load(const Args& a, int threads, bool quiet) {
  LoadOptions lo;
  lo.path = a.require("model");
  lo.backend = a.get("backend", "auto");
  lo.device = a.get("device", "cpu");
  lo.threads = threads;
  lo.max_chunk = a.get_int("max-chunk", 512);
  if (!quiet) std::fprintf(stderr, "qbench: loading %s\n", lo.path.c_str());
  return load_engine(lo);
}

int set_threads(const Args& a) {
  const int threads = int(a.get_int("threads", 0));
  if (threads < 0) throw Error("--threads must be >= 0");
  if (threads > 0) omp_set_num_threads(threads);
  return threads;
}

void finish(const Args& a, int argc, char** argv, const RunContext& ctx, Engine& e, const nlohmann::json& workload,
            const nlohmann::json& extra_runtime) {
  nlohmann::json runtime = {{"threads", omp_get_max_threads()}, {"device", a.get("device", "cpu")},
                            {"max_chunk", a.get_int("max-chunk", 512)}};
  runtime.update(extra_runtime);
  (void)argc;
  (void)argv;
  const nlohmann::json result = make_result(ctx, collect_system_info(), e.describe(), runtime, workload);
  if (a.has("out")) {
    write_json_atomic(a.get("out"), result);
    std::fprintf(stderr, "qbench: wrote %s\n", a.get("out").c_str());
  }
}

int eval_mmlu(int argc, char** argv) {
  Args a(argc, argv, 3,
         {"model", "backend", "device", "data", "shots", "subjects", "limit", "scoring", "ctx", "kv-type", "threads",
          "max-chunk", "baseline", "out"},
         {"chat-template", "no-prefix-reuse", "quiet", "help"});
  if (a.flag("help")) {
    std::fputs(kEvalUsage, stdout);
    return 0;
  }
  const RunContext ctx = make_run_context(argc, argv);
  const bool quiet = a.flag("quiet");
  const int threads = set_threads(a);
  const std::string data_dir = a.get("data", source_path("datasets/samples/mmlu"));
  const McDataset data = load_mc_dataset(data_dir, split_commas(a.get("subjects", "")));
  // Read the baseline before the long run, so a bad path fails at once.
  nlohmann::json baseline;
  if (a.has("baseline")) baseline = read_json_file(a.get("baseline"));

  auto engine = load(a, threads, quiet);
  MmluParams p;
  p.shots = int(a.get_int("shots", 5));
  p.limit = a.get_int("limit", 0);
  p.scoring = parse_mc_scoring(a.get("scoring", "letter"));
  p.chat_template = a.flag("chat-template");
  p.progress = !quiet;
  const int64_t ctx_len = std::min<int64_t>(a.get_int("ctx", 2048), engine->config().max_position_embeddings);
  if (ctx_len < 8) throw Error("--ctx must be at least 8 tokens");
  const KvType kv = parse_kv_type(a.get("kv-type", "f16"));
  EngineLogitsModel lm(*engine, ctx_len, kv, !a.flag("no-prefix-reuse"));
  const MmluResult res = run_mmlu(lm, engine->tokenizer(), data, p);
  nlohmann::json w = res.to_json();
  w["params"]["kv_type"] = kv_type_name(kv);
  w["params"]["prefix_reuse"] = !a.flag("no-prefix-reuse");
  if (a.has("baseline")) w["baseline"] = compare_mmlu_to_baseline(baseline, a.get("baseline"), res);

  const auto& s = w["summary"];
  std::printf("mmlu (%s, %d-shot, %s scoring): %lld questions, micro %.2f%% [%.2f, %.2f], macro %.2f%% [%.2f, %.2f]\n",
              mc_layout_name(data.layout), p.shots, mc_scoring_name(p.scoring), (long long)res.questions.size(),
              100 * s["micro"]["accuracy"].get<double>(), 100 * s["micro"]["ci95"][0].get<double>(),
              100 * s["micro"]["ci95"][1].get<double>(), 100 * s["macro"]["accuracy"].get<double>(),
              100 * s["macro"]["ci95"][0].get<double>(), 100 * s["macro"]["ci95"][1].get<double>());
  for (auto& c : s["categories"])
    std::printf("  %-16s %5.2f%%  (%lld questions)\n", c["category"].get<std::string>().c_str(),
                100 * c["accuracy"].get<double>(), (long long)c["questions"].get<int64_t>());
  std::printf("  speed: %.2f questions/s, %lld prompt tokens, %lld evaluated\n", w["speed"]["questions_per_s"].get<double>(),
              (long long)res.prompt_tokens_total, (long long)res.tokens_evaluated);
  if (w.contains("baseline")) {
    const auto& b = w["baseline"];
    std::printf("  vs baseline: %+.2f points [%+.2f, %+.2f], McNemar p = %.3g, agreement %.1f%%, %zu flipped\n",
                b["accuracy_change_points"].get<double>(), b["accuracy_change_points_ci95"][0].get<double>(),
                b["accuracy_change_points_ci95"][1].get<double>(), b["mcnemar_exact_p"].get<double>(),
                100 * b["answer_agreement"].get<double>(), b["flipped"].size());
  }
  finish(a, argc, argv, ctx, *engine, w, {{"context_length", ctx_len}});
  return 0;
}


std::string read_text_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int eval_ppl(int argc, char** argv) {
  Args a(argc, argv, 3,
         {"model", "backend", "device", "text", "ctx", "stride", "max-chunks", "kv-type", "threads", "max-chunk",
          "save-logits", "top-k", "kl-base", "out"},
         {"quiet", "help"});
  if (a.flag("help")) {
    std::fputs(kEvalUsage, stdout);
    return 0;
  }
  const RunContext ctx = make_run_context(argc, argv);
  const bool quiet = a.flag("quiet");
  const int threads = set_threads(a);
  const std::string text_path = a.get("text", source_path("datasets/samples/perplexity_text.txt"));
  const std::string text = read_text_file(text_path);
  // The baseline's distributions, read first so a bad file fails before the run.
  LogitsFileHeader base_h;
  std::vector<TokenDist> base;
  if (a.has("kl-base")) base = read_logits_file(a.get("kl-base"), base_h);

  auto engine = load(a, threads, quiet);
  const std::vector<int32_t> tokens = engine->tokenizer().encode(text, false);
  PplParams p;
  p.ctx = a.get_int("ctx", a.has("kl-base") ? base_h.ctx : 512);
  p.stride = a.get_int("stride", a.has("kl-base") ? base_h.stride : 0);
  p.max_windows = a.get_int("max-chunks", 0);
  p.progress = !quiet;
  if (p.ctx < 2 || p.ctx > engine->config().max_position_embeddings)
    throw Error("--ctx must be in [2, " + std::to_string(engine->config().max_position_embeddings) + "]");
  if (a.has("kl-base")) {
    if (base_h.text_hash != hash_tokens(tokens) || base_h.text_tokens != int64_t(tokens.size()))
      throw Error(a.get("kl-base") + ": computed on a different text (or tokenizer) than " + text_path);
    if (base_h.ctx != p.ctx || base_h.stride != (p.stride ? p.stride : p.ctx))
      throw Error(a.get("kl-base") + ": baseline used --ctx " + std::to_string(base_h.ctx) + " --stride " +
                  std::to_string(base_h.stride) + "; use the same windows");
    if (base_h.vocab != engine->config().vocab_size)
      throw Error(a.get("kl-base") + ": baseline vocabulary " + std::to_string(base_h.vocab) + " differs from this model's " +
                  std::to_string(engine->config().vocab_size));
  }
  const int top_k = int(a.get_int("top-k", 32));
  if (top_k < 1) throw Error("--top-k must be >= 1");

  std::vector<TokenDist> saved;
  std::vector<double> kl, base_lp, test_lp, lp;
  std::vector<bool> agree;
  size_t next_base = 0;
  auto on_token = [&](int64_t pos, int32_t tok, const float* logits, int64_t V) {
    if (a.has("save-logits")) saved.push_back(make_token_dist(pos, tok, logits, V, top_k));
    if (!a.has("kl-base")) return;
    if (next_base >= base.size() || base[next_base].pos != pos || base[next_base].token != tok)
      throw Error(a.get("kl-base") + ": scored positions differ from this run's at position " + std::to_string(pos) +
                  " (use the same --ctx, --stride and --max-chunks)");
    const TokenDist& b = base[next_base++];
    log_softmax(logits, V, lp);
    kl.push_back(kl_topk(b, lp));
    agree.push_back(int32_t(std::max_element(lp.begin(), lp.end()) - lp.begin()) == b.ids[0]);
    base_lp.push_back(b.token_logprob);
    test_lp.push_back(lp[size_t(tok)]);
  };
  const KvType kv = parse_kv_type(a.get("kv-type", "f16"));
  EngineLogitsModel lm(*engine, p.ctx, kv, /*prefix_reuse=*/false);
  const PplResult res = run_perplexity(lm, tokens, p, on_token);
  nlohmann::json w = res.to_json();
  w["params"]["kv_type"] = kv_type_name(kv);
  w["text"] = {{"path", text_path}, {"bytes", text.size()}, {"token_hash", hash_tokens(tokens)}};
  std::printf("perplexity: %.4f +/- %.4f (95%% CI [%.4f, %.4f]) over %lld tokens (ctx %lld, stride %lld, %lld windows)\n",
              res.ppl, res.ppl_error, res.ppl_lo, res.ppl_hi, (long long)res.scored, (long long)p.ctx,
              (long long)(p.stride ? p.stride : p.ctx), (long long)res.windows);
  if (a.has("save-logits")) {
    LogitsFileHeader h{engine->config().vocab_size, p.ctx, p.stride ? p.stride : p.ctx, int64_t(tokens.size()), top_k,
                       hash_tokens(tokens)};
    write_logits_file(a.get("save-logits"), h, saved);
    w["saved_logits"] = {{"path", a.get("save-logits")}, {"top_k", top_k}, {"tokens", saved.size()}};
    std::fprintf(stderr, "qbench: wrote %s (top-%d log-probs of %zu tokens)\n", a.get("save-logits").c_str(), top_k, saved.size());
  }
  if (a.has("kl-base")) {
    if (next_base != base.size())
      throw Error(a.get("kl-base") + ": holds " + std::to_string(base.size()) + " tokens, this run scored " + std::to_string(next_base));
    const KlStats ks = summarize_kl(kl, agree, base_lp, test_lp);
    w["kl_divergence"] = ks.to_json();
    w["kl_divergence"]["baseline_file"] = a.get("kl-base");
    w["kl_divergence"]["top_k"] = base_h.k;
    w["kl_divergence"]["method"] = "KL(base||this) over the baseline's top-k tokens plus the remaining mass";
    std::printf("  KL vs base: mean %.6g (se %.2g), median %.6g, p99 %.6g, max %.6g; top-1 agreement %.2f%%; "
                "ppl %.4f vs %.4f (delta %+.4f)\n",
                ks.mean, ks.mean_se, ks.median, ks.p99, ks.max, 100 * ks.top1_agreement, ks.test_ppl, ks.base_ppl, ks.delta_ppl);
  }
  finish(a, argc, argv, ctx, *engine, w, {{"context_length", p.ctx}});
  return 0;
}

}  // namespace

int cmd_eval(int argc, char** argv) {
  const std::string sub = argc > 2 ? argv[2] : "";
  if (sub == "mmlu") return eval_mmlu(argc, argv);
  if (sub == "ppl" || sub == "perplexity") return eval_ppl(argc, argv);
  std::fputs(kEvalUsage, sub == "--help" || sub == "help" ? stdout : stderr);
  return sub == "--help" || sub == "help" ? 0 : 2;
}

}  // namespace qbench::cli
