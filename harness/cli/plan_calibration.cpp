#include "harness/plan/calibration.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "engines/core/error.h"

namespace qbench::plan {

using nlohmann::json;

namespace {

const json* path(const json& j, std::initializer_list<const char*> keys) {
  const json* p = &j;
  for (const char* k : keys) {
    if (!p->is_object() || !p->contains(k)) return nullptr;
    p = &(*p)[k];
  }
  return p;
}

double number_at(const json& j, std::initializer_list<const char*> keys, const std::string& where, bool required) {
  const json* p = path(j, keys);
  if (!p || !p->is_number()) {
    if (!required) return 0;
    std::string dotted;
    for (const char* k : keys) dotted += (dotted.empty() ? "" : ".") + std::string(k);
    throw Error(where + ": " + dotted + " is missing or not a number");
  }
  return p->get<double>();
}

std::string shape_tag(const ModelConfig& c) {
  return "h" + std::to_string(c.hidden_size) + "-l" + std::to_string(c.num_layers) + "-v" + std::to_string(c.vocab_size);
}

double error_pct(double predicted, double measured) { return measured > 0 ? (predicted - measured) / measured * 100.0 : 0.0; }

}  // namespace

ModelConfig config_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": model.config is not an object");
  auto i64 = [&](const char* k) -> int64_t {
    if (!j.contains(k) || !j[k].is_number_integer()) throw Error(where + ": model.config." + k + " is missing or not an integer");
    return j[k].get<int64_t>();
  };
  ModelConfig c;
  if (j.contains("architecture") && j["architecture"].is_string()) c.architecture = j["architecture"];
  if (j.contains("model_type") && j["model_type"].is_string()) c.model_type = j["model_type"];
  c.vocab_size = i64("vocab_size");
  c.hidden_size = i64("hidden_size");
  c.intermediate_size = i64("intermediate_size");
  c.num_layers = i64("num_layers");
  c.num_heads = i64("num_heads");
  c.num_kv_heads = i64("num_kv_heads");
  c.head_dim = i64("head_dim");
  c.max_position_embeddings = i64("max_position_embeddings");
  if (j.contains("rope_theta") && j["rope_theta"].is_number()) c.rope_theta = j["rope_theta"];
  if (j.contains("rms_norm_eps") && j["rms_norm_eps"].is_number()) c.rms_norm_eps = j["rms_norm_eps"];
  if (j.contains("tie_word_embeddings") && j["tie_word_embeddings"].is_boolean()) c.tie_word_embeddings = j["tie_word_embeddings"];
  if (j.contains("attention_bias") && j["attention_bias"].is_boolean()) c.attention_bias = j["attention_bias"];
  c.validate(where + ": model.config");
  return c;
}

MeasuredRun read_measured_run(const json& r, const std::string& where, const std::vector<DeviceSpec>& catalog,
                              const std::optional<json>& roofline) {
  if (!r.is_object() || r.value("schema", "") != "qbench.result") throw Error(where + ": not a qbench result file");
  if (!path(r, {"workload", "summary", "decode_tokens_per_s"}))
    throw Error(where + ": no workload.summary.decode_tokens_per_s (calibration reads latency results)");
  MeasuredRun m;
  m.file = where;
  const json* cfg = path(r, {"model", "config"});
  if (!cfg) throw Error(where + ": no model.config");
  m.config = config_from_json(*cfg, where);
  const json* be = path(r, {"model", "backend"});
  if (!be || !be->is_string()) throw Error(where + ": no model.backend");
  m.backend = be->get<std::string>();
  const json* kv = path(r, {"workload", "params", "kv_type"});
  m.kv_type = kv && kv->is_string() ? kv->get<std::string>() : "f16";
  m.prompt_tokens = int64_t(number_at(r, {"workload", "params", "prompt_tokens"}, where, true));
  m.gen_tokens = int64_t(number_at(r, {"workload", "params", "gen_tokens"}, where, true));
  if (m.prompt_tokens <= 0 || m.gen_tokens < 2 || m.prompt_tokens > (int64_t(1) << 32) || m.gen_tokens > (int64_t(1) << 32))
    throw Error(where + ": calibration needs prompt_tokens >= 1 and gen_tokens >= 2");
  m.decode_tokens_per_s = number_at(r, {"workload", "summary", "decode_tokens_per_s", "p50"}, where, true);
  if (!(m.decode_tokens_per_s > 0)) throw Error(where + ": decode_tokens_per_s.p50 is not positive");
  m.prefill_tokens_per_s = number_at(r, {"workload", "summary", "prefill_tokens_per_s", "p50"}, where, false);

  const json* dev = path(r, {"runtime", "device"});
  const std::string device = dev && dev->is_string() ? dev->get<std::string>() : "cpu";
  if (device == "cpu") {
    const int threads = int(number_at(r, {"runtime", "threads"}, where, false));
    const json* own = path(r, {"roofline"});
    if (!own) own = path(r, {"system", "roofline"});
    if (own) m.device = cpu_device_from_roofline(*own, threads, where + " (its roofline)");
    else if (roofline) {
      try {
        m.device = cpu_device_from_roofline(*roofline, threads, "--roofline");
      } catch (const Error&) {  // no row for this thread count: the all-threads row
        m.device = cpu_device_from_roofline(*roofline, 0, "--roofline");
      }
    } else
      throw Error(where + ": a CPU run needs the machine's roofline: pass --roofline FILE (bench_roofline --json FILE)");
    const json* cpu_model = path(r, {"system", "cpu", "model"});
    if (cpu_model && cpu_model->is_string()) m.device.name = cpu_model->get<std::string>();
    const json* mem = path(r, {"system", "memory_bytes"});
    if (mem && mem->is_number_unsigned()) m.device.memory_bytes = mem->get<uint64_t>();
  } else {
    const json* gpus = path(r, {"system", "gpus"});
    if (!gpus || !gpus->is_array() || gpus->empty() || !(*gpus)[0].contains("name") || !(*gpus)[0]["name"].is_string())
      throw Error(where + ": a " + device + " run without system.gpus[0].name");
    const std::string name = (*gpus)[0]["name"];
    const DeviceSpec* found = nullptr;
    for (auto& d : catalog)
      if (!d.match.empty() && name.find(d.match) != std::string::npos && (!found || d.match.size() > found->match.size()))
        found = &d;
    if (!found) throw Error(where + ": GPU '" + name + "' is not in the catalog (add it with --gpus-file)");
    m.device = *found;
  }
  return m;
}

double fit_relative(const std::vector<double>& r, const std::vector<double>& m) {
  double a = 0, b = 0;
  for (size_t i = 0; i < r.size() && i < m.size(); ++i) {
    if (!(m[i] > 0) || !(r[i] > 0)) continue;
    const double x = r[i] / m[i];
    a += x;
    b += x * x;
  }
  if (!(b > 0)) throw Error("calibration: no usable measurements");
  return a / b;
}

TimeFit fit_time_model(const std::vector<double>& x, const std::vector<double>& t) {
  // Weighted normal equations with w = 1/t^2 (relative error).
  double sxx = 0, sx = 0, s1 = 0, sxt = 0, st = 0;
  size_t n = 0;
  for (size_t i = 0; i < x.size() && i < t.size(); ++i) {
    if (!(x[i] > 0) || !(t[i] > 0)) continue;
    const double w = 1.0 / (t[i] * t[i]);
    sxx += w * x[i] * x[i], sx += w * x[i], s1 += w, sxt += w * x[i] * t[i], st += w * t[i];
    ++n;
  }
  TimeFit f;
  const double det = sxx * s1 - sx * sx;
  if (n >= 2 && det > 1e-12 * sxx * s1) {
    f.a = (sxt * s1 - sx * st) / det;
    f.b = (sxx * st - sx * sxt) / det;
    if (f.a > 0 && f.b >= 0) return f;
  }
  // Through the origin: t = a*x, i.e. rate = (1/a) * roofline rate.
  std::vector<double> r, m;
  for (size_t i = 0; i < x.size() && i < t.size(); ++i) r.push_back(x[i] > 0 ? 1.0 / x[i] : 0), m.push_back(t[i] > 0 ? 1.0 / t[i] : 0);
  f.a = 1.0 / fit_relative(r, m);
  f.b = 0;
  return f;
}

json CalibrationRow::to_json() const {
  json j = {{"file", file},
            {"backend", backend},
            {"model", model},
            {"context", context},
            {"measured_decode_tokens_per_s", measured_decode},
            {"predicted_decode_tokens_per_s", predicted_decode},
            {"decode_error_pct", decode_error_pct}};
  if (measured_prefill > 0) {
    j["measured_prefill_tokens_per_s"] = measured_prefill;
    j["predicted_prefill_tokens_per_s"] = predicted_prefill;
    j["prefill_error_pct"] = prefill_error_pct;
  }
  return j;
}

json DeviceCalibration::to_json() const {
  json rs = json::array();
  for (auto& r : rows) rs.push_back(r.to_json());
  json j = {{"device", device.to_json()},
            {"efficiency", efficiency.to_json()},
            {"max_abs_decode_error_pct", max_abs_decode_error_pct},
            {"runs", rs}};
  if (!held_out.empty()) {
    json hs = json::array();
    for (auto& r : held_out) hs.push_back(r.to_json());
    j["held_out"] = hs;
    j["max_abs_held_out_decode_error_pct"] = max_abs_held_out_decode_error_pct;
  }
  return j;
}

namespace {

std::string device_key(const DeviceSpec& d) { return d.id + "|" + d.name; }

bool is_dense_backend(const std::string& b) { return b == "fp16" || b == "bf16" || b == "f32" || b == "fp32"; }

}  // namespace

CalibrationRow predict_run(const MeasuredRun& m, const Efficiency& eff) {
  PlanParams p;
  p.context = m.mean_decode_context();
  p.prompt_tokens = m.prompt_tokens;
  p.kv_type = m.kv_type;
  const Prediction pr = predict(m.config, m.backend, m.device, p, eff);
  CalibrationRow row;
  row.file = m.file;
  row.backend = m.backend;
  row.model = shape_tag(m.config);
  row.context = p.context;
  row.measured_decode = m.decode_tokens_per_s;
  row.predicted_decode = pr.decode_tokens_per_s;
  row.decode_error_pct = error_pct(row.predicted_decode, row.measured_decode);
  if (m.prefill_tokens_per_s > 0) {
    row.measured_prefill = m.prefill_tokens_per_s;
    const double s =
        prefill_flops(m.config, m.prompt_tokens) / (eff.compute * m.device.matmul_tflops * 1e12) + eff.overhead_ms * 1e-3;
    row.predicted_prefill = double(m.prompt_tokens) / s;
    row.prefill_error_pct = error_pct(row.predicted_prefill, row.measured_prefill);
  }
  return row;
}

void validate(std::vector<DeviceCalibration>& cal, const std::vector<MeasuredRun>& held_out) {
  for (const MeasuredRun& m : held_out) {
    auto it = std::find_if(cal.begin(), cal.end(), [&](const DeviceCalibration& d) { return device_key(d.device) == device_key(m.device); });
    if (it == cal.end())
      throw Error(m.file + ": --validate run on " + m.device.name + ", for which no --calibrate run fitted factors");
    it->held_out.push_back(predict_run(m, it->efficiency));
    it->max_abs_held_out_decode_error_pct =
        std::max(it->max_abs_held_out_decode_error_pct, std::fabs(it->held_out.back().decode_error_pct));
  }
}

std::vector<DeviceCalibration> calibrate(const std::vector<MeasuredRun>& runs) {
  std::map<std::string, std::vector<const MeasuredRun*>> groups;
  for (auto& m : runs) groups[device_key(m.device)].push_back(&m);
  std::vector<DeviceCalibration> out;
  for (auto& [key, ms] : groups) {
    DeviceCalibration dc;
    dc.device = ms.front()->device;
    // Decode: seconds per token against seconds at full bandwidth; prefill:
    // seconds per prompt against seconds at the full matmul rate.
    // The device's decode fit uses the dense runs (FP16/BF16/F32 stream at the
    // kernel-independent rate) when there are any; other backends then get their
    // own bandwidth share below.
    std::vector<const MeasuredRun*> base;
    for (const MeasuredRun* m : ms)
      if (is_dense_backend(m->backend)) base.push_back(m);
    if (base.empty()) base = ms;
    std::vector<double> xd, td, xp, tp;
    for (const MeasuredRun* m : base)
      // Per layer: t/L = (x/L)/e + o_layer, a straight line whose intercept is the per-layer overhead.
      xd.push_back(1.0 / decode_roofline_tokens_per_s(m->config, m->backend, m->device, m->kv_type, m->mean_decode_context(), 1) /
                   double(m->config.num_layers)),
          td.push_back(1.0 / m->decode_tokens_per_s / double(m->config.num_layers));
    for (const MeasuredRun* m : ms) {
      if (m->prefill_tokens_per_s > 0) {
        xp.push_back(prefill_flops(m->config, m->prompt_tokens) / (m->device.matmul_tflops * 1e12));
        tp.push_back(double(m->prompt_tokens) / m->prefill_tokens_per_s);
      }
    }
    dc.efficiency = Efficiency::defaults_for(dc.device);
    const TimeFit fd = fit_time_model(xd, td);
    dc.efficiency.bandwidth = 1.0 / fd.a;
    dc.efficiency.layer_overhead_ms = fd.b * 1e3;
    if (!xp.empty()) {
      const TimeFit fp = fit_time_model(xp, tp);
      dc.efficiency.compute = 1.0 / fp.a;
      dc.efficiency.overhead_ms = fp.b * 1e3;
    }
    // Per quantized backend: t = x / e_b + o with the device's overhead o = o_layer x layers,
    // e_b by least squares on relative error: 1/e_b = Σ (t−o)·x/t² / Σ x²/t².
    std::map<std::string, std::pair<double, double>> sums;
    const bool per_backend = base.size() != ms.size();  // else: all dense, or none (one factor for all)
    for (const MeasuredRun* m : ms) {
      if (!per_backend || is_dense_backend(m->backend)) continue;
      const double x = 1.0 / decode_roofline_tokens_per_s(m->config, m->backend, m->device, m->kv_type, m->mean_decode_context(), 1);
      const double t = 1.0 / m->decode_tokens_per_s, o = dc.efficiency.layer_overhead_ms * 1e-3 * double(m->config.num_layers);
      sums[m->backend].first += (t - o) * x / (t * t);
      sums[m->backend].second += x * x / (t * t);
    }
    for (auto& [b, s] : sums)
      if (s.first > 0) dc.efficiency.backend_bandwidth[b] = s.second / s.first;
    dc.efficiency.origin = "calibrated (" + std::to_string(ms.size()) + " runs)";
    // Predict every run back through the planner itself, with the fitted factors.
    for (const MeasuredRun* m : ms) {
      dc.rows.push_back(predict_run(*m, dc.efficiency));
      dc.max_abs_decode_error_pct = std::max(dc.max_abs_decode_error_pct, std::fabs(dc.rows.back().decode_error_pct));
    }
    out.push_back(std::move(dc));
  }
  return out;
}

}  // namespace qbench::plan
