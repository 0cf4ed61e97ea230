#include "reports/cost_efficiency.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "engines/core/error.h"
#include "reports/units.h"

namespace qbench::report {

PriceTable parse_price_table(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("devices") || !j["devices"].is_object() || j["devices"].empty())
    throw Error(where + ": a price file is {\"devices\": {\"<device name>\": {\"price_per_hour\": N, \"currency\": \"USD\"}}}");
  PriceTable t;
  for (const auto& [name, e] : j["devices"].items()) {
    const std::string w = where + ": devices.\"" + name + "\"";
    if (!e.is_object() || !e.contains("price_per_hour") || !e["price_per_hour"].is_number())
      throw Error(w + " needs a numeric price_per_hour");
    const double p = e["price_per_hour"].get<double>();
    if (!std::isfinite(p) || p <= 0) throw Error(w + ": price_per_hour must be positive");
    if (!e.contains("currency") || !e["currency"].is_string() || e["currency"].get<std::string>().empty())
      throw Error(w + " needs a currency (e.g. \"USD\")");
    t.devices[name] = {p, e["currency"].get<std::string>()};
  }
  return t;
}

PriceTable load_price_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open price file");
  std::stringstream ss;
  ss << in.rdbuf();
  const auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) throw Error(path + ": not valid JSON");
  return parse_price_table(j, path);
}

std::optional<double> request_latency_ms(const TradeoffRow& r) {
  auto ttft = row_stat(r, "ttft_ms");
  auto tpot = row_stat(r, "tpot_ms");
  if (!ttft || !tpot || r.m.gen_tokens <= 0) return std::nullopt;
  return ttft->median + double(r.m.gen_tokens - 1) * tpot->median;
}

std::vector<CostRow> cost_rows(const std::vector<TradeoffRow>& rows, const PriceTable& prices) {
  std::vector<CostRow> out;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    auto it = prices.devices.find(r.m.device_name);
    if (it == prices.devices.end()) it = prices.devices.find(r.m.key.device);
    if (it == prices.devices.end()) continue;
    CostRow c;
    c.row = i;
    c.price_key = it->first;
    c.price = it->second;
    if (auto tps = row_stat(r, "decode_tokens_per_s"); tps && tps->median > 0) {
      c.index = tps->median / c.price.per_hour;
      c.cost_per_mtok = c.price.per_hour / (tps->median * 3600.0) * 1e6;
    }
    if (auto lat = request_latency_ms(r); lat && *lat > 0) c.requests_per_day = 86400e3 / *lat;
    out.push_back(c);
  }
  return out;
}

std::string row_name(const TradeoffRow& r) {
  return r.m.key.model + " " + r.m.key.backend + " (" + r.m.key.device + ", " + r.m.key.workload + ")";
}

namespace {

template <class F>
std::optional<size_t> arg_best(const std::vector<TradeoffRow>& rows, F value, bool minimise) {
  std::optional<size_t> best;
  double bv = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::optional<double> v = value(rows[i]);
    if (!v) continue;
    if (!best || (minimise ? *v < bv : *v > bv)) {
      best = i;
      bv = *v;
    }
  }
  return best;
}

std::optional<double> med(const TradeoffRow& r, const char* m) {
  auto s = row_stat(r, m);
  return s ? std::optional<double>(s->median) : std::nullopt;
}

}  // namespace

std::vector<Recommendation> recommend(const std::vector<TradeoffRow>& rows, const std::vector<CostRow>& costs, Lang lang) {
  const bool zh = lang == Lang::zh;
  std::vector<Recommendation> out;
  {
    Recommendation r{"lowest_latency", arg_best(rows, request_latency_ms, true), ""};
    r.rule = zh ? "完整请求耗时最小：TTFT 中位数 + (生成长度 − 1) × TPOT 中位数" : "smallest median time for a whole request: TTFT + (gen − 1) × TPOT";
    if (!r.row) {
      r.row = arg_best(rows, [](const TradeoffRow& x) { return med(x, "ttft_ms"); }, true);
      r.rule = zh ? "TTFT 中位数最小（无 TPOT 数据）" : "smallest median TTFT (no TPOT measured)";
    }
    out.push_back(r);
  }
  out.push_back({"smallest_memory", arg_best(rows, [](const TradeoffRow& x) { return med(x, "memory_mb"); }, true),
                 zh ? "引擎峰值内存（权重 + KV 缓存 + 激活）最小" : "smallest engine peak memory (weights + KV cache + activations)"});
  {
    Recommendation r{"highest_fidelity", arg_best(rows, [](const TradeoffRow& x) { return med(x, "mmlu_accuracy"); }, false),
                     zh ? "MMLU 准确率最高" : "highest MMLU accuracy"};
    if (!r.row) {
      r.row = arg_best(rows, [](const TradeoffRow& x) { return med(x, "kl_mean"); }, true);
      r.rule = zh ? "相对基线的 KL 散度均值最小（无 MMLU 数据）" : "smallest mean KL divergence from the baseline (no MMLU measured)";
    }
    if (!r.row) r.rule = zh ? "无准确率或 KL 数据" : "no accuracy or KL results";
    out.push_back(r);
  }
  {
    Recommendation r{"best_cost", std::nullopt, ""};
    double best = 0;
    for (const auto& c : costs)
      if (c.index && (!r.row || *c.index > best)) {
        r.row = c.row;
        best = *c.index;
      }
    r.rule = r.row ? (zh ? "性价比指数最高：解码 tokens/s ÷ 每小时价格" : "highest cost-efficiency index: decode tokens/s per price unit per hour")
                   : (zh ? "无价格文件或无匹配设备（--prices）" : "no price file or no priced device (--prices)");
    out.push_back(r);
  }
  return out;
}

std::string cost_markdown(const std::vector<TradeoffRow>& rows, const std::vector<CostRow>& costs, Lang lang) {
  std::ostringstream o;
  o << "| " << label("model", lang) << " | " << label("backend", lang) << " | " << label("device", lang) << " | "
    << label("price_per_hour", lang) << " | " << label("cost_index", lang) << " | " << label("cost_per_mtok", lang) << " | "
    << label("requests_per_day", lang) << " |\n| --- | --- | --- | ---: | ---: | ---: | ---: |\n";
  auto f = [](const std::optional<double>& v, int d) { return v ? format_fixed(*v, d) : std::string("–"); };
  for (const auto& c : costs) {
    const auto& r = rows[c.row];
    o << "| " << md_escape(r.m.key.model) << " | " << md_escape(r.m.key.backend) << " | " << md_escape(c.price_key) << " | "
      << format_fixed(c.price.per_hour, 2) << " " << md_escape(c.price.currency) << " | " << f(c.index, 1) << " | "
      << (c.cost_per_mtok ? format_fixed(*c.cost_per_mtok, 3) + " " + md_escape(c.price.currency) : "–") << " | "
      << f(c.requests_per_day, 0) << " |\n";
  }
  return o.str();
}

std::string recommendations_markdown(const std::vector<TradeoffRow>& rows, const std::vector<Recommendation>& recs, Lang lang) {
  std::ostringstream o;
  o << "| " << label("scenario", lang) << " | " << label("choice", lang) << " | " << label("rule", lang) << " |\n| --- | --- | --- |\n";
  for (const auto& r : recs)
    o << "| " << label(r.scenario, lang) << " | " << (r.row ? md_escape(row_name(rows[*r.row])) : "–") << " | " << md_escape(r.rule)
      << " |\n";
  return o.str();
}

}  // namespace qbench::report
