#include "reports/cell_metrics.h"

#include <algorithm>

namespace qbench::report {

namespace {

using J = nlohmann::json;

// A summary {n, p50, stddev, min, max, p99} as a Stat, for files without runs[].
std::optional<Stat> stat_from_summary(const J& s) {
  if (!json_has_num(s, "p50")) return std::nullopt;
  Stat t;
  t.median = json_num(s, "p50", 0);
  t.stddev = json_num(s, "stddev", 0);
  t.min = json_num(s, "min", t.median);
  t.max = json_num(s, "max", t.median);
  t.p99 = json_num(s, "p99", t.max);
  t.n = int(json_num(s, "n", 1));
  return t;
}

void add_latency(const J& w, std::map<std::string, std::vector<double>>& runs, std::map<std::string, std::vector<Stat>>& summaries) {
  const auto& rs = json_at(w, "runs");
  if (rs.is_array() && !rs.empty()) {
    for (const auto& r : rs) {
      for (const char* k : {"ttft_ms", "decode_tokens_per_s", "prefill_tokens_per_s"})
        if (json_has_num(r, k)) runs[k].push_back(json_num(r, k, 0));
      // TPOT of a run = its mean inter-token latency (workloads/latency.cpp).
      const auto& itl = json_at(r, "itl_ms");
      if (json_has_num(itl, "mean") && json_num(itl, "n", 0) > 0 && json_num(r, "generated", 2) > 1)
        runs["tpot_ms"].push_back(json_num(itl, "mean", 0));
    }
    return;
  }
  const auto& s = json_at(w, "summary");
  for (const char* k : {"ttft_ms", "decode_tokens_per_s", "prefill_tokens_per_s", "tpot_ms"})
    if (auto t = stat_from_summary(json_at(s, k))) summaries[k].push_back(*t);
}

}  // namespace

CellMetrics cell_metrics(const CellKey& key, const std::vector<const ResultFile*>& files) {
  CellMetrics c;
  c.key = key;
  c.files = int(files.size());
  std::map<std::string, std::vector<double>> runs;
  std::map<std::string, std::vector<Stat>> summaries;
  std::vector<double> acc, acc_lo, acc_hi, ppl, kl, kl_med, kl_p99, top1;
  for (const ResultFile* f : files) {
    const auto& r = f->j;
    const auto& m = json_at(r, "model");
    c.format = json_str(m, "format", c.format);
    c.weight_dtype = json_str(m, "weight_dtype", c.weight_dtype);
    c.device_name = json_str(json_at(r, "matrix"), "device_name", c.device_name);
    if (c.device_name.empty()) {
      const auto& sys = json_at(r, "system");
      const auto& gpus = json_at(sys, "gpus");
      const bool gpu = json_str(m, "device", "cpu") != "cpu";
      if (gpu && gpus.is_array() && !gpus.empty()) c.device_name = json_str(gpus[0], "name", "");
      else c.device_name = json_str(json_at(sys, "cpu"), "model", "");
    }
    const auto& w = json_at(r, "workload");
    const std::string kind = json_str(w, "workload", "");
    const auto& s = json_at(w, "summary");
    const auto& p = json_at(w, "params");
    if (json_has_num(p, "prompt_tokens")) c.prompt_tokens = int(json_num(p, "prompt_tokens", 0));
    if (json_has_num(p, "gen_tokens")) c.gen_tokens = int(json_num(p, "gen_tokens", 0));
    if (kind == "latency" || kind == "long-context") add_latency(w, runs, summaries);
    const auto& e = json_at(json_at(w, "memory"), "engine_peak");
    if (e.is_object()) {
      MemoryBreakdown mb = c.memory.value_or(MemoryBreakdown{});
      mb.weights = std::max(mb.weights, json_num(e, "weights", 0));
      mb.kv_cache = std::max(mb.kv_cache, json_num(e, "kv_cache", 0));
      mb.activations = std::max(mb.activations, json_num(e, "activations", 0) + json_num(e, "workspace", 0));
      mb.total = std::max(mb.total, json_num(e, "total", mb.weights + mb.kv_cache + mb.activations));
      c.memory = mb;
    }
    // MMLU: summary.accuracy {value, ci95} (docs/reports.md) or, as `qbench eval
    // mmlu` writes it, summary.micro {accuracy, ci95}.
    const auto& micro = json_at(s, "micro");
    const auto& a = json_has_num(json_at(s, "accuracy"), "value") ? json_at(s, "accuracy") : micro;
    const char* acc_key = json_has_num(json_at(s, "accuracy"), "value") ? "value" : "accuracy";
    if (kind == "mmlu" && json_has_num(a, acc_key)) {
      acc.push_back(100.0 * json_num(a, acc_key, 0));
      const auto& ci = json_at(a, "ci95");
      if (ci.is_array() && ci.size() == 2 && ci[0].is_number() && ci[1].is_number()) {
        acc_lo.push_back(100.0 * ci[0].get<double>());
        acc_hi.push_back(100.0 * ci[1].get<double>());
      }
    }
    // Perplexity / KL: summary.perplexity {value}, summary.kl {mean, median, p99},
    // summary.top1_agreement; or `qbench eval ppl`'s workload.perplexity and
    // workload.kl_divergence {kl_mean, kl_median, kl_p99, top1_agreement}.
    if (json_has_num(json_at(s, "perplexity"), "value")) ppl.push_back(json_num(json_at(s, "perplexity"), "value", 0));
    else if (kind == "perplexity" && json_has_num(w, "perplexity")) ppl.push_back(json_num(w, "perplexity", 0));
    const auto& k = json_at(s, "kl");
    const auto& kd = json_at(w, "kl_divergence");
    if (json_has_num(k, "mean")) {
      kl.push_back(json_num(k, "mean", 0));
      if (json_has_num(k, "median")) kl_med.push_back(json_num(k, "median", 0));
      if (json_has_num(k, "p99")) kl_p99.push_back(json_num(k, "p99", 0));
    } else if (json_has_num(kd, "kl_mean")) {
      kl.push_back(json_num(kd, "kl_mean", 0));
      if (json_has_num(kd, "kl_median")) kl_med.push_back(json_num(kd, "kl_median", 0));
      if (json_has_num(kd, "kl_p99")) kl_p99.push_back(json_num(kd, "kl_p99", 0));
    }
    if (json_has_num(s, "top1_agreement")) top1.push_back(100.0 * json_num(s, "top1_agreement", 0));
    else if (json_has_num(kd, "top1_agreement")) top1.push_back(100.0 * json_num(kd, "top1_agreement", 0));
    // Throughput curve: qbench run --workload throughput writes workload.points[{concurrency, summary{...}}];
    // summary.points[{concurrency, output_tokens_per_s}] is accepted too (flattened files).
    for (const auto* pts : {&json_at(s, "points"), &json_at(w, "points")})
      if (pts->is_array())
        for (const auto& pt : *pts) {
          const auto& ps = json_has_num(pt, "output_tokens_per_s") ? pt : json_at(pt, "summary");
          if (json_has_num(pt, "concurrency") && json_has_num(ps, "output_tokens_per_s"))
            c.concurrency.emplace_back(json_num(pt, "concurrency", 0), json_num(ps, "output_tokens_per_s", 0));
        }
  }
  for (auto& [k, v] : runs) {
    if (auto t = stat_of(v)) c.stats[k] = *t;
    if (k == "ttft_ms" || k == "tpot_ms") c.samples[k] = v;
  }
  // Files with summaries only: the median of their medians, the widest range.
  for (auto& [k, v] : summaries) {
    if (c.stats.count(k)) continue;
    std::vector<double> med;
    Stat t = v[0];
    for (const auto& x : v) {
      med.push_back(x.median);
      t.min = std::min(t.min, x.min);
      t.max = std::max(t.max, x.max);
      t.p99 = std::max(t.p99, x.p99);
      t.stddev = std::max(t.stddev, x.stddev);
    }
    t.median = percentile_of(med, 50);
    t.n = 0;
    for (const auto& x : v) t.n += x.n;
    c.stats[k] = t;
  }
  if (c.memory) c.stats["memory_mb"] = Stat{c.memory->total / 1e6, 0, c.memory->total / 1e6, c.memory->total / 1e6, c.memory->total / 1e6, 1};
  if (auto t = stat_of(acc)) {
    c.stats["mmlu_accuracy"] = *t;
    if (!acc_lo.empty()) {
      c.mmlu_ci95 = std::make_pair(percentile_of(acc_lo, 50), percentile_of(acc_hi, 50));
      // The accuracy's sampling noise, from its 95 % interval: sd = width / 3.92.
      c.stats["mmlu_accuracy"].stddev = std::max(c.stats["mmlu_accuracy"].stddev, (c.mmlu_ci95->second - c.mmlu_ci95->first) / 3.92);
    }
  }
  if (auto t = stat_of(ppl)) c.stats["perplexity"] = *t;
  if (auto t = stat_of(kl)) c.stats["kl_mean"] = *t;
  if (auto t = stat_of(top1)) c.stats["top1_agreement"] = *t;
  if (!kl_med.empty()) c.kl_median = percentile_of(kl_med, 50);
  if (!kl_p99.empty()) c.kl_p99 = percentile_of(kl_p99, 50);
  std::sort(c.concurrency.begin(), c.concurrency.end());
  return c;
}

std::vector<CellMetrics> all_cell_metrics(const std::vector<ResultFile>& files) {
  std::vector<CellMetrics> out;
  for (const auto& [k, v] : group_by_cell(files)) out.push_back(cell_metrics(k, v));
  return out;
}

}  // namespace qbench::report
