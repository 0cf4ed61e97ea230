#include "harness/plan/plan_report.h"

#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "engines/core/error.h"

namespace qbench::plan {

using nlohmann::json;

std::map<std::string, Price> parse_prices(const json& doc, const std::string& where) {
  if (!doc.is_object() || !doc.contains("devices") || !doc["devices"].is_object())
    throw Error(where + ": a price file is an object with a \"devices\" object");
  std::map<std::string, Price> out;
  for (auto& [id, e] : doc["devices"].items()) {
    const std::string w = where + ": devices." + id;
    if (!e.is_object() || !e.contains("price_per_hour") || !e["price_per_hour"].is_number())
      throw Error(w + ": needs a numeric price_per_hour");
    Price p;
    p.per_hour = e["price_per_hour"].get<double>();
    if (!(p.per_hour >= 0) || p.per_hour > 1e6) throw Error(w + ": price_per_hour must be a non-negative amount");
    if (e.contains("currency")) {
      if (!e["currency"].is_string()) throw Error(w + ": currency must be a string");
      p.currency = e["currency"];
    }
    out[id] = p;
  }
  return out;
}

double PlanRow::cost_per_million_tokens() const {
  if (!price || !(p.aggregate_tokens_per_s > 0)) return 0;
  return price->per_hour / (p.aggregate_tokens_per_s * 3600.0) * 1e6;
}

json PlanRow::to_json() const {
  json j = p.to_json();
  if (price) {
    j["price_per_hour"] = price->per_hour;
    j["currency"] = price->currency;
    j["cost_per_million_tokens"] = p.fits ? json(cost_per_million_tokens()) : json(nullptr);
    j["tokens_per_currency_unit"] = p.fits && price->per_hour > 0 ? json(p.aggregate_tokens_per_s * 3600.0 / price->per_hour) : json(nullptr);
  }
  return j;
}

namespace {

std::string gib(uint64_t b) {
  char s[32];
  std::snprintf(s, sizeof s, "%.1f", double(b) / 1073741824.0);
  return s;
}

std::string num(double v, int prec) {
  char s[32];
  std::snprintf(s, sizeof s, "%.*f", prec, v);
  return s;
}

std::string ctx(const Prediction& p) { return std::to_string(p.max_context) + (p.max_context_capped ? "*" : ""); }

std::vector<std::vector<std::string>> cells(const PlanReport& r, bool any_price) {
  std::vector<std::vector<std::string>> rows;
  for (const PlanRow& row : r.rows) {
    const Prediction& p = row.p;
    std::vector<std::string> c = {p.device, p.backend, p.fits ? "yes" : "no", gib(p.required_bytes()) + " / " + gib(p.memory_bytes),
                                  gib(p.weight_bytes), gib(p.kv_bytes), ctx(p), num(p.ttft_ms, 1),
                                  num(p.decode_tokens_per_s, 1), num(p.aggregate_tokens_per_s, 1)};
    if (any_price) c.push_back(row.price && p.fits ? num(row.cost_per_million_tokens(), 3) + " " + row.price->currency : "-");
    rows.push_back(c);
  }
  return rows;
}

std::vector<std::string> header(bool any_price) {
  std::vector<std::string> h = {"gpu", "backend", "fits", "need/have GiB", "weights GiB", "KV GiB", "max ctx",
                                "TTFT ms", "decode tok/s", "batch tok/s"};
  if (any_price) h.push_back("cost / 1M tok");
  return h;
}

bool has_price(const PlanReport& r) {
  for (auto& row : r.rows)
    if (row.price) return true;
  return false;
}

std::string preamble(const PlanReport& r) {
  const PlanParams& p = r.params;
  return r.model + " (" + std::to_string(r.config.parameter_count()) + " parameters, " + std::to_string(r.config.num_layers) +
         " layers), context " + std::to_string(p.context) + ", batch " + std::to_string(p.batch) + ", KV " + p.kv_type +
         ", TTFT for a " + std::to_string(p.prompt_tokens) + "-token prompt";
}

const char* kFootnote =
    "decode tok/s per sequence at the full context; batch tok/s for all sequences; * = capped at the model's "
    "max_position_embeddings. Efficiency factors: see the efficiency field (--json) or docs/planner.md.";

}  // namespace

std::string format_plan_table(const PlanReport& r) {
  const bool pr = has_price(r);
  const auto h = header(pr);
  const auto rows = cells(r, pr);
  std::vector<size_t> w(h.size());
  for (size_t i = 0; i < h.size(); ++i) {
    w[i] = h[i].size();
    for (auto& row : rows) w[i] = std::max(w[i], row[i].size());
  }
  std::string out = preamble(r) + "\n\n";
  auto line = [&](const std::vector<std::string>& c) {
    for (size_t i = 0; i < c.size(); ++i) {
      const std::string pad(w[i] - c[i].size(), ' ');
      out += i < 2 ? c[i] + pad : pad + c[i];  // names left, numbers right
      out += i + 1 < c.size() ? "  " : "\n";
    }
  };
  line(h);
  for (auto& row : rows) line(row);
  return out + "\n" + kFootnote + "\n";
}

std::string format_plan_markdown(const PlanReport& r) {
  const bool pr = has_price(r);
  const auto h = header(pr);
  std::string out = "**" + preamble(r) + "**\n\n|";
  for (auto& c : h) out += " " + c + " |";
  out += "\n|";
  for (size_t i = 0; i < h.size(); ++i) out += i < 3 ? " --- |" : " ---: |";
  out += "\n";
  for (auto& row : cells(r, pr)) {
    out += "|";
    for (auto& c : row) out += " " + c + " |";
    out += "\n";
  }
  return out + "\n" + kFootnote + "\n";
}

json plan_rows_json(const PlanReport& r) {
  json rows = json::array();
  for (auto& row : r.rows) {
    json j = row.to_json();
    j["model"] = r.model;
    j["context"] = r.params.context;
    j["batch"] = r.params.batch;
    j["kv_type"] = r.params.kv_type;
    j["prompt_tokens"] = r.params.prompt_tokens;
    rows.push_back(j);
  }
  return rows;
}

std::string format_calibration(const std::vector<DeviceCalibration>& cal, bool md) {
  std::string out;
  for (const DeviceCalibration& d : cal) {
    out += (md ? "**" : "") + std::string("calibration: ") + d.device.id + " (" + d.device.name + ", " +
           num(d.device.bandwidth_gbs, 1) + " GB/s, " + num(d.device.matmul_tflops * 1000, 0) +
           " GFLOP/s): bandwidth efficiency " + num(d.efficiency.bandwidth, 3) + ", compute efficiency " +
           num(d.efficiency.compute, 3) + ", decode overhead " + num(d.efficiency.layer_overhead_ms * 1e3, 1) +
           " us per layer, TTFT overhead " + num(d.efficiency.overhead_ms, 1) + " ms, " + d.efficiency.origin + (md ? "**" : "") + "\n\n";
    if (md) out += "| run | backend | model | context | measured decode tok/s | predicted | error % | measured prefill tok/s | predicted | error % |\n"
                   "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
    else {
      char h[256];
      std::snprintf(h, sizeof h, "%-40s %-12s %-22s %7s %10s %10s %7s %10s %10s %7s\n", "run", "backend", "model", "context",
                    "decode", "predicted", "err %", "prefill", "predicted", "err %");
      out += h;
    }
    for (const CalibrationRow& r : d.rows) {
      const std::string pm = r.measured_prefill > 0 ? num(r.measured_prefill, 1) : "-";
      const std::string pp = r.measured_prefill > 0 ? num(r.predicted_prefill, 1) : "-";
      const std::string pe = r.measured_prefill > 0 ? num(r.prefill_error_pct, 1) : "-";
      if (md)
        out += "| " + r.file + " | " + r.backend + " | " + r.model + " | " + std::to_string(r.context) + " | " +
               num(r.measured_decode, 2) + " | " + num(r.predicted_decode, 2) + " | " + num(r.decode_error_pct, 1) + " | " +
               pm + " | " + pp + " | " + pe + " |\n";
      else {
        char l[512];
        std::snprintf(l, sizeof l, "%-40s %-12s %-22s %7lld %10.2f %10.2f %7.1f %10s %10s %7s\n", r.file.c_str(),
                      r.backend.c_str(), r.model.c_str(), (long long)r.context, r.measured_decode, r.predicted_decode,
                      r.decode_error_pct, pm.c_str(), pp.c_str(), pe.c_str());
        out += l;
      }
    }
    out += "max |decode error| " + num(d.max_abs_decode_error_pct, 1) + " %\n\n";
    if (!d.held_out.empty()) {
      out += std::string(md ? "**" : "") + "held out (predicted with the factors above, not used to fit them)" +
             (md ? "**" : "") + "\n\n";
      if (md) out += "| run | backend | model | context | measured decode tok/s | predicted | error % |\n"
                     "| --- | --- | --- | ---: | ---: | ---: | ---: |\n";
      for (const CalibrationRow& r : d.held_out) {
        if (md)
          out += "| " + r.file + " | " + r.backend + " | " + r.model + " | " + std::to_string(r.context) + " | " +
                 num(r.measured_decode, 2) + " | " + num(r.predicted_decode, 2) + " | " + num(r.decode_error_pct, 1) + " |\n";
        else {
          char l[512];
          std::snprintf(l, sizeof l, "%-40s %-12s %-22s %7lld %10.2f %10.2f %7.1f\n", r.file.c_str(), r.backend.c_str(),
                        r.model.c_str(), (long long)r.context, r.measured_decode, r.predicted_decode, r.decode_error_pct);
          out += l;
        }
      }
      out += "max |held-out decode error| " + num(d.max_abs_held_out_decode_error_pct, 1) + " %\n\n";
    }
  }
  return out;
}

}  // namespace qbench::plan
