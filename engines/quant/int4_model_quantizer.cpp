#include "engines/quant/int4_model_quantizer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "datasets/calibration/calibration_text.h"
#include "datasets/tokenizer/tokenizer.h"

#include "engines/core/error.h"
#include "engines/formats/gptq_awq_writer.h"
#include "engines/formats/hf_checkpoint.h"
#include "engines/formats/hf_weights.h"
#include "engines/quant/int4_awq.h"
#include "engines/quant/int4_calibration.h"
#include "engines/quant/int4_gptq.h"
#include "engines/quant/int4_rtn.h"

namespace qbench::quant {

namespace {

const char* kLinears[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                          "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};

std::string short_name(const std::string& s) { return s.substr(s.find('.') + 1); }

struct DenseW {
  std::vector<float> w;
  int64_t out = 0, in = 0;
};

DenseW read_weight(const HfCheckpoint& ck, const std::string& prefix) {
  const TensorRef& t = ck.require(prefix + ".weight");
  if (t.shape.size() != 2) throw Error(t.file + ": tensor '" + t.name + "' is not a matrix");
  return {tensor_to_f32(t, t.shape), t.shape[0], t.shape[1]};
}

double energy(const DenseW& w, const std::vector<double>& h) {
  const std::vector<float> zero(w.w.size(), 0.f);
  return output_error(w.w.data(), zero.data(), w.out, w.in, h);
}

double codes_error(const DenseW& w, const Int4Codes& c, const std::vector<double>& h) {
  std::vector<float> back(w.w.size());
  dequantize_all(c, back.data());
  return output_error(w.w.data(), back.data(), w.out, w.in, h);
}

void scale_columns(DenseW& w, const std::vector<float>& s) {
  for (int64_t o = 0; o < w.out; ++o)
    for (int64_t i = 0; i < w.in; ++i) w.w[size_t(o * w.in + i)] *= s[size_t(i)];
}
void divide_rows(std::vector<float>& v, int64_t rows, int64_t cols, const std::vector<float>& s) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) v[size_t(r * cols + c)] /= s[size_t(r)];
}

void gptq_layer(const HfCheckpoint& ck, const std::string& p, const LayerInputStats& st, const ModelQuantizeOptions& opt,
                Int4Checkpoint& out, std::vector<QuantErrorReport>& rep) {
  GptqOptions go;
  go.group_size = opt.group_size;
  go.act_order = opt.desc_act;
  go.sym = opt.sym;
  go.damp = opt.damp;
  for (const char* l : kLinears) {
    const std::string prefix = p + l;
    const DenseW w = read_weight(ck, prefix);
    const InputStats& s = st.for_linear(short_name(l));
    Int4Codes c = gptq_quantize(w.w.data(), w.out, w.in, s.h, go);
    const Int4Codes rtn = rtn_quantize(w.w.data(), w.out, w.in, opt.group_size, opt.sym ? Int4Style::GptqSym : Int4Style::GptqAsym);
    rep.push_back({prefix, codes_error(w, c, s.h), codes_error(w, rtn, s.h), energy(w, s.h), 0});
    out.linears.emplace(prefix, std::move(c));
  }
}

// AWQ for one decoder layer: search scales per shared input, fold 1/s into the
// producer of that input, then quantize the scaled weights with AWQ's RTN.
void awq_layer(const HfCheckpoint& ck, const ModelConfig& cfg, const std::string& p, const LayerInputStats& st,
               const ModelQuantizeOptions& opt, Int4Checkpoint& out, std::vector<QuantErrorReport>& rep) {
  std::map<std::string, DenseW> w;
  for (const char* l : kLinears) w[l] = read_weight(ck, p + l);
  auto search = [&](const std::vector<std::string>& names, const InputStats& s, const std::string& label) {
    std::vector<AwqLinearRef> refs;
    double e = 0;
    for (auto& n : names) refs.push_back({w[n].w.data(), w[n].out}), e += energy(w[n], s.h);
    AwqScaleResult r = awq_search_scales(refs, s.in, s.h, s.abs_mean(), opt.group_size, opt.awq_grid);
    rep.push_back({p + label, r.loss, r.loss_rtn, e, r.alpha});
    if (r.scales.empty()) r.scales.assign(size_t(s.in), 1.f);
    for (auto& n : names) scale_columns(w[n], r.scales);
    return r.scales;
  };
  auto replace = [&](const std::string& name, std::vector<float> v) { out.replacements[name] = std::move(v); };

  const auto s_qkv = search({"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}, st.attn_in, "[q,k,v]");
  std::vector<float> ln1 = tensor_to_f32(ck.require(p + "input_layernorm.weight"), {cfg.hidden_size});
  divide_rows(ln1, cfg.hidden_size, 1, s_qkv);
  replace(p + "input_layernorm.weight", std::move(ln1));
  // o_proj's input channels are v_proj's outputs only without GQA (as AutoAWQ checks).
  auto& v = w["self_attn.v_proj"];
  if (v.out == w["self_attn.o_proj"].in) {
    const auto s_o = search({"self_attn.o_proj"}, st.o_in, "[o]");
    divide_rows(v.w, v.out, v.in, s_o);
    if (cfg.attention_bias) {
      std::vector<float> b = tensor_to_f32(ck.require(p + "self_attn.v_proj.bias"), {v.out});
      divide_rows(b, v.out, 1, s_o);
      replace(p + "self_attn.v_proj.bias", std::move(b));
    }
  } else {
    AwqScaleResult r0 = awq_search_scales({{w["self_attn.o_proj"].w.data(), w["self_attn.o_proj"].out}}, st.o_in.in, st.o_in.h,
                                          st.o_in.abs_mean(), opt.group_size, 1);  // α = 0 only: plain RTN
    rep.push_back({p + "[o] (GQA: no foldable scale)", r0.loss, r0.loss_rtn, energy(w["self_attn.o_proj"], st.o_in.h), 0});
  }
  const auto s_mlp = search({"mlp.gate_proj", "mlp.up_proj"}, st.mlp_in, "[gate,up]");
  std::vector<float> ln2 = tensor_to_f32(ck.require(p + "post_attention_layernorm.weight"), {cfg.hidden_size});
  divide_rows(ln2, cfg.hidden_size, 1, s_mlp);
  replace(p + "post_attention_layernorm.weight", std::move(ln2));
  const auto s_down = search({"mlp.down_proj"}, st.down_in, "[down]");
  auto& up = w["mlp.up_proj"];
  divide_rows(up.w, up.out, up.in, s_down);
  for (const char* l : kLinears) out.linears.emplace(p + l, rtn_quantize(w[l].w.data(), w[l].out, w[l].in, opt.group_size, Int4Style::Awq));
}

}  // namespace

std::vector<std::vector<int32_t>> calibration_for_model(const std::string& model_dir, const std::string& calib_file,
                                                        int64_t seq_len, int64_t max_seqs) {
  const std::string tok = find_tokenizer_json(model_dir);
  if (tok.empty()) throw Error(model_dir + ": no tokenizer.json to tokenize the calibration text with");
  return calibration_sequences(Tokenizer::from_hf_json_file(tok), calib_file, seq_len, max_seqs);
}

std::string error_report_table(const std::vector<QuantErrorReport>& rep, const std::string& method) {
  std::string s;
  char line[256];
  std::snprintf(line, sizeof line, "%-52s %12s %12s %8s\n", "layer (relative output error ||dW X|| / ||W X||)", method.c_str(), "rtn", "alpha");
  s += line;
  double m = 0, r = 0, e = 0;
  for (const auto& x : rep) {
    std::snprintf(line, sizeof line, "%-52s %12.6f %12.6f %8.2f\n", x.name.c_str(), std::sqrt(x.err_method / x.energy),
                  std::sqrt(x.err_rtn / x.energy), x.awq_alpha);
    s += line;
    m += x.err_method, r += x.err_rtn, e += x.energy;
  }
  std::snprintf(line, sizeof line, "%-52s %12.6f %12.6f\n", "all layers", std::sqrt(m / e), std::sqrt(r / e));
  return s + line;
}

std::vector<QuantErrorReport> quantize_model(const std::string& model_dir, const std::string& out_dir, const ModelQuantizeOptions& opt) {
  if (opt.method != "gptq" && opt.method != "awq") throw Error("quantize: unknown method '" + opt.method + "'");
  if (opt.calibration.empty()) throw Error("quantize: no calibration sequences");
  HfCheckpoint ck(model_dir);
  const ModelConfig& cfg = ck.config();
  const int64_t h = cfg.hidden_size, qd = cfg.num_heads * cfg.head_dim, ff = cfg.intermediate_size;
  const uint64_t per_layer = uint64_t(2 * h * h + qd * qd + ff * ff) * sizeof(double);
  const int64_t per_pass = std::max<int64_t>(1, int64_t(opt.stats_budget_bytes / std::max<uint64_t>(per_layer, 1)));

  Int4Checkpoint out;
  out.format = opt.method == "gptq" ? Int4FileFormat::Gptq : Int4FileFormat::Awq;
  out.group_size = opt.group_size;
  out.desc_act = opt.desc_act;
  out.sym = opt.sym;
  out.damp = opt.damp;
  std::vector<QuantErrorReport> rep;
  for (int64_t l0 = 0; l0 < cfg.num_layers; l0 += per_pass) {
    const int64_t l1 = std::min(cfg.num_layers, l0 + per_pass);
    std::fprintf(stderr, "qbench: calibrating layers %lld..%lld on %zu sequences\n", (long long)l0, (long long)l1 - 1, opt.calibration.size());
    const auto stats = collect_input_stats(model_dir, opt.calibration, l0, l1);
    for (int64_t l = l0; l < l1; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      if (opt.method == "gptq") gptq_layer(ck, p, stats[size_t(l - l0)], opt, out, rep);
      else awq_layer(ck, cfg, p, stats[size_t(l - l0)], opt, out, rep);
    }
  }
  write_int4_checkpoint(model_dir, out_dir, out);
  return rep;
}

}  // namespace qbench::quant
