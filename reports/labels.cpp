#include "reports/labels.h"

#include <map>
#include <utility>

#include "engines/core/error.h"

namespace qbench::report {

Lang parse_lang(const std::string& s) {
  if (s == "en") return Lang::en;
  if (s == "zh") return Lang::zh;
  throw Error("unknown --lang '" + s + "' (available: en, zh)");
}

std::string label(const std::string& key, Lang lang) {
  static const std::map<std::string, std::pair<std::string, std::string>> t = {
      {"model", {"Model", "模型"}},
      {"backend", {"Backend", "后端"}},
      {"format", {"Format", "文件格式"}},
      {"device", {"Device", "设备"}},
      {"workload", {"Workload", "负载"}},
      {"memory_mb", {"Memory (MB)", "显存/内存 (MB)"}},
      {"ttft_ms", {"TTFT (ms)", "首字延迟 TTFT (ms)"}},
      {"tpot_ms", {"TPOT (ms)", "每字延迟 TPOT (ms)"}},
      {"decode_tokens_per_s", {"Decode (tokens/s)", "解码速度 (tokens/s)"}},
      {"prefill_tokens_per_s", {"Prefill (tokens/s)", "预填充速度 (tokens/s)"}},
      {"mmlu_accuracy", {"MMLU (%)", "MMLU 准确率 (%)"}},
      {"mmlu_drop", {"MMLU drop vs FP16 (pp)", "相对 FP16 下降 (百分点)"}},
      {"kl_mean", {"KL divergence", "KL 散度"}},
      {"perplexity", {"Perplexity", "困惑度"}},
      {"title", {"Quantization trade-off", "量化权衡对比"}},
      {"cost_title", {"Cost efficiency", "成本效率"}},
      {"recommend_title", {"Recommendations", "场景推荐"}},
      {"charts_title", {"Charts", "图表"}},
      {"price_per_hour", {"Price per hour", "每小时价格"}},
      {"cost_index", {"Cost-efficiency index (tokens/s per price unit)", "性价比指数 (tokens/s / 每小时价格)"}},
      {"cost_per_mtok", {"Cost per 1M output tokens", "每百万输出 token 成本"}},
      {"requests_per_day", {"Requests/day", "每日请求容量"}},
      {"scenario", {"Scenario", "场景"}},
      {"choice", {"Choice", "推荐"}},
      {"rule", {"Rule", "规则"}},
      {"lowest_latency", {"Lowest latency", "最低延迟"}},
      {"smallest_memory", {"Smallest memory", "最小内存"}},
      {"highest_fidelity", {"Highest fidelity", "最高保真度"}},
      {"best_cost", {"Best cost efficiency", "最佳性价比"}},
      {"spread_note",
       {"Medians over the runs of every repetition; ± is the sample standard deviation across runs; – means not measured.",
        "数值为所有重复运行的中位数；± 为运行间样本标准差；– 表示未测量。"}},
      {"chart_pareto", {"Decode speed vs quality loss (Pareto front)", "解码速度与质量损失 (帕累托前沿)"}},
      {"chart_memory", {"Memory (MB)", "内存占用 (MB)"}},
      {"chart_ttft", {"TTFT distribution (ms)", "首字延迟分布 (ms)"}},
      {"chart_tpot", {"TPOT distribution (ms)", "每字延迟分布 (ms)"}},
      {"chart_concurrency", {"Throughput vs concurrency", "吞吐量与并发"}},
      {"weights", {"weights", "权重"}},
      {"kv_cache", {"KV cache", "KV 缓存"}},
      {"activations", {"activations", "激活"}},
      {"pareto_front", {"Pareto front", "帕累托前沿"}},
      {"concurrency", {"concurrency", "并发数"}},
      {"output_tokens_per_s", {"output tokens/s", "输出 tokens/s"}},
  };
  auto it = t.find(key);
  if (it == t.end()) return key;
  return lang == Lang::zh ? it->second.second : it->second.first;
}

}  // namespace qbench::report
