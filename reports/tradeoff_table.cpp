#include "reports/tradeoff_table.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <tuple>

#include "reports/metric_catalog.h"
#include "reports/units.h"

namespace qbench::report {

namespace {

const char* kMissing = "–";

bool is_speed_cell(const CellMetrics& c) { return c.stats.count("ttft_ms") || c.stats.count("decode_tokens_per_s"); }

void merge_into(CellMetrics& dst, const CellMetrics& src) {
  for (const auto& [k, v] : src.stats) dst.stats.emplace(k, v);
  if (!dst.memory && src.memory) dst.memory = src.memory;
  if (!dst.mmlu_ci95) dst.mmlu_ci95 = src.mmlu_ci95;
  if (!dst.kl_median) dst.kl_median = src.kl_median;
  if (!dst.kl_p99) dst.kl_p99 = src.kl_p99;
  if (dst.concurrency.empty()) dst.concurrency = src.concurrency;
  if (dst.format.empty()) dst.format = src.format;
  if (dst.device_name.empty()) dst.device_name = src.device_name;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string o = "\"";
  for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
  return o + "\"";
}

std::string num_or_empty(const std::optional<double>& v, int decimals) { return v ? format_fixed(*v, decimals) : ""; }

}  // namespace

std::vector<TradeoffRow> build_tradeoff(const std::vector<CellMetrics>& cells) {
  using Group = std::tuple<std::string, std::string, std::string>;  // model, backend, device
  std::map<Group, std::vector<const CellMetrics*>> speed, other;
  for (const auto& c : cells) {
    const Group g{c.key.model, c.key.backend, c.key.device};
    (is_speed_cell(c) ? speed : other)[g].push_back(&c);
  }
  std::vector<TradeoffRow> rows;
  auto add_group = [&](const Group& g) {
    const auto& extra = other.count(g) ? other[g] : std::vector<const CellMetrics*>{};
    if (speed.count(g)) {
      for (const CellMetrics* s : speed[g]) {
        TradeoffRow r{*s, std::nullopt, ""};
        for (const CellMetrics* e : extra) merge_into(r.m, *e);
        rows.push_back(std::move(r));
      }
    } else {
      TradeoffRow r{*extra[0], std::nullopt, ""};
      r.m.key.workload = kMissing;
      for (size_t i = 1; i < extra.size(); ++i) merge_into(r.m, *extra[i]);
      rows.push_back(std::move(r));
    }
  };
  std::vector<Group> groups;
  for (const auto& [g, _] : speed) groups.push_back(g);
  for (const auto& [g, _] : other)
    if (!speed.count(g)) groups.push_back(g);
  for (const auto& g : groups) add_group(g);

  std::stable_sort(rows.begin(), rows.end(), [](const TradeoffRow& a, const TradeoffRow& b) {
    if (a.m.key.model != b.m.key.model) return a.m.key.model < b.m.key.model;
    if (a.m.key.device != b.m.key.device) return a.m.key.device < b.m.key.device;
    if (a.m.key.workload != b.m.key.workload) return a.m.key.workload < b.m.key.workload;
    return backend_less(a.m.key.backend, b.m.key.backend);
  });
  // Accuracy drop against the FP16 (else BF16) row of the same model and device.
  for (auto& r : rows) {
    if (!r.m.stats.count("mmlu_accuracy")) continue;
    for (const char* base : {"fp16", "bf16"}) {
      auto it = std::find_if(rows.begin(), rows.end(), [&](const TradeoffRow& b) {
        return b.m.key.model == r.m.key.model && b.m.key.device == r.m.key.device && b.m.key.backend == base &&
               b.m.stats.count("mmlu_accuracy");
      });
      if (it == rows.end()) continue;
      r.mmlu_drop_pp = it->m.stats.at("mmlu_accuracy").median - r.m.stats.at("mmlu_accuracy").median;
      r.baseline_backend = base;
      break;
    }
  }
  return rows;
}

std::string format_stat(const std::optional<Stat>& s, int decimals) {
  if (!s) return kMissing;
  std::string o = format_fixed(s->median, decimals);
  if (s->n > 1 && s->stddev > 0) o += " ± " + format_fixed(s->stddev, decimals);
  return o;
}

std::optional<Stat> row_stat(const TradeoffRow& r, const std::string& metric) {
  auto it = r.m.stats.find(metric);
  if (it == r.m.stats.end()) return std::nullopt;
  return it->second;
}

std::string md_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '|') o += "\\|";
    else if (c == '\n') o += ' ';
    else o += c;
  }
  return o;
}

std::string tradeoff_markdown(const std::vector<TradeoffRow>& rows, Lang lang) {
  std::ostringstream o;
  const std::vector<std::string> cols = {"model",     "backend", "format",        "device",  "workload",   "memory_mb",
                                         "ttft_ms",   "decode_tokens_per_s", "mmlu_accuracy", "mmlu_drop", "kl_mean", "perplexity"};
  o << "|";
  for (const auto& c : cols) o << " " << label(c, lang) << " |";
  o << "\n|";
  for (size_t i = 0; i < cols.size(); ++i) o << (i < 5 ? " --- |" : " ---: |");
  o << "\n";
  for (const auto& r : rows) {
    const auto& k = r.m.key;
    o << "| " << md_escape(k.model) << " | " << md_escape(k.backend) << " | " << md_escape(r.m.format.empty() ? kMissing : r.m.format)
      << " | " << md_escape(k.device) << " | " << md_escape(k.workload) << " | ";
    for (const char* m : {"memory_mb", "ttft_ms", "decode_tokens_per_s", "mmlu_accuracy"})
      o << format_stat(row_stat(r, m), find_metric(m)->decimals) << " | ";
    o << (r.mmlu_drop_pp ? format_fixed(*r.mmlu_drop_pp, 2) : kMissing) << " | ";
    o << format_stat(row_stat(r, "kl_mean"), find_metric("kl_mean")->decimals) << " | ";
    o << format_stat(row_stat(r, "perplexity"), find_metric("perplexity")->decimals) << " |\n";
  }
  o << "\n" << label("spread_note", lang) << "\n";
  return o.str();
}

std::string tradeoff_csv(const std::vector<TradeoffRow>& rows) {
  std::ostringstream o;
  o << "model,backend,format,device,workload,prompt_tokens,gen_tokens,weights_mb,kv_cache_mb,activations_mb,memory_mb";
  const std::vector<std::string> spread = {"ttft_ms", "tpot_ms", "decode_tokens_per_s", "prefill_tokens_per_s"};
  for (const auto& m : spread) o << "," << m << "_median," << m << "_stddev," << m << "_min," << m << "_max," << m << "_n";
  o << ",mmlu_accuracy,mmlu_ci95_lo,mmlu_ci95_hi,mmlu_drop_pp,kl_mean,kl_median,kl_p99,perplexity,top1_agreement\n";
  for (const auto& r : rows) {
    const auto& k = r.m.key;
    o << csv_field(k.model) << "," << csv_field(k.backend) << "," << csv_field(r.m.format) << "," << csv_field(k.device) << ","
      << csv_field(k.workload) << ",";
    o << (r.m.prompt_tokens ? std::to_string(r.m.prompt_tokens) : "") << "," << (r.m.gen_tokens ? std::to_string(r.m.gen_tokens) : "");
    auto mb = [&](double MemoryBreakdown::*f) { return r.m.memory ? format_fixed(r.m.memory.value().*f / 1e6, 3) : std::string(); };
    o << "," << mb(&MemoryBreakdown::weights) << "," << mb(&MemoryBreakdown::kv_cache) << "," << mb(&MemoryBreakdown::activations)
      << "," << mb(&MemoryBreakdown::total);
    for (const auto& m : spread) {
      const auto s = row_stat(r, m);
      const int d = find_metric(m)->decimals + 2;
      if (s) o << "," << format_fixed(s->median, d) << "," << format_fixed(s->stddev, d) << "," << format_fixed(s->min, d) << ","
               << format_fixed(s->max, d) << "," << s->n;
      else o << ",,,,,";
    }
    auto med = [&](const char* m) -> std::optional<double> {
      auto s = row_stat(r, m);
      return s ? std::optional<double>(s->median) : std::nullopt;
    };
    o << "," << num_or_empty(med("mmlu_accuracy"), 2);
    o << "," << num_or_empty(r.m.mmlu_ci95 ? std::optional<double>(r.m.mmlu_ci95->first) : std::nullopt, 2);
    o << "," << num_or_empty(r.m.mmlu_ci95 ? std::optional<double>(r.m.mmlu_ci95->second) : std::nullopt, 2);
    o << "," << num_or_empty(r.mmlu_drop_pp, 2);
    o << "," << num_or_empty(med("kl_mean"), 6) << "," << num_or_empty(r.m.kl_median, 6) << "," << num_or_empty(r.m.kl_p99, 6);
    o << "," << num_or_empty(med("perplexity"), 4) << "," << num_or_empty(med("top1_agreement"), 2) << "\n";
  }
  return o.str();
}

nlohmann::json tradeoff_json(const std::vector<TradeoffRow>& rows) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : rows) {
    nlohmann::json j = {{"model", r.m.key.model},       {"backend", r.m.key.backend}, {"format", r.m.format},
                        {"device", r.m.key.device},     {"device_name", r.m.device_name},
                        {"workload", r.m.key.workload}, {"result_files", r.m.files}};
    if (r.m.prompt_tokens) j["prompt_tokens"] = r.m.prompt_tokens;
    if (r.m.gen_tokens) j["gen_tokens"] = r.m.gen_tokens;
    if (r.m.memory)
      j["memory_bytes"] = {{"weights", r.m.memory->weights}, {"kv_cache", r.m.memory->kv_cache},
                           {"activations", r.m.memory->activations}, {"total", r.m.memory->total}};
    nlohmann::json metrics = nlohmann::json::object();
    for (const auto& [k, s] : r.m.stats)
      metrics[k] = {{"median", s.median}, {"stddev", s.stddev}, {"min", s.min}, {"max", s.max}, {"p99", s.p99}, {"n", s.n}};
    j["metrics"] = metrics;
    if (r.m.mmlu_ci95) j["mmlu_ci95"] = {r.m.mmlu_ci95->first, r.m.mmlu_ci95->second};
    if (r.mmlu_drop_pp) j["mmlu_drop_pp"] = {{"value", *r.mmlu_drop_pp}, {"baseline_backend", r.baseline_backend}};
    if (r.m.kl_median) j["kl_median"] = *r.m.kl_median;
    if (r.m.kl_p99) j["kl_p99"] = *r.m.kl_p99;
    out.push_back(j);
  }
  return {{"schema", "qbench.report"}, {"schema_version", 1}, {"rows", out}};
}

}  // namespace qbench::report
