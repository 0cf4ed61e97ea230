#include "engines/quant/gguf_mix.h"

#include "engines/core/error.h"
#include "engines/quant/block_layouts.h"

namespace qbench::quant {

namespace {

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

// llama.cpp's use_more_bits: the first and last eighth of the layers, and every third one between.
bool use_more_bits(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

}  // namespace

GgufMix parse_mix(const std::string& n) {
  if (n == "q8_0") return GgufMix::Q8_0;
  if (n == "q4_k_m") return GgufMix::Q4_K_M;
  if (n == "q5_k_s") return GgufMix::Q5_K_S;
  throw Error("unknown GGUF type '" + n + "' (q8_0, q4_k_m, q5_k_s)");
}

const char* mix_name(GgufMix m) {
  switch (m) {
    case GgufMix::Q8_0: return "q8_0";
    case GgufMix::Q4_K_M: return "q4_k_m";
    case GgufMix::Q5_K_S: return "q5_k_s";
  }
  return "?";
}

uint32_t mix_file_type(GgufMix m) {
  switch (m) {
    case GgufMix::Q8_0: return 7;
    case GgufMix::Q4_K_M: return 15;
    case GgufMix::Q5_K_S: return 16;
  }
  return 0;
}

MixPlanner::MixPlanner(GgufMix mix, int64_t n_layers, bool has_output)
    : mix_(mix), n_layers_(n_layers), has_output_(has_output) {}

GgmlType MixPlanner::type_for(const std::string& name, int n_dims, int64_t ne0) {
  // Only 2-D weights are quantised; norms and biases stay F32.
  if (n_dims != 2 || !ends_with(name, "weight")) return GgmlType::F32;
  GgmlType t = mix_ == GgufMix::Q8_0 ? GgmlType::Q8_0 : mix_ == GgufMix::Q4_K_M ? GgmlType::Q4_K : GgmlType::Q5_K;
  if (name == "output.weight" || (!has_output_ && name == "token_embd.weight")) {
    // The LM head: Q6_K unless the mix is Q8_0; rows that are not whole super-blocks go to Q8_0.
    if (ne0 % QK_K != 0) return GgmlType::Q8_0;
    if (t != GgmlType::Q8_0) t = GgmlType::Q6_K;
    return t;
  }
  if (name.find("attn_v.weight") != std::string::npos) {
    if (mix_ == GgufMix::Q4_K_M && use_more_bits(i_attn_v_, n_layers_)) t = GgmlType::Q6_K;
    ++i_attn_v_;
  } else if (name.find("ffn_down") != std::string::npos) {
    if (mix_ == GgufMix::Q4_K_M && use_more_bits(i_ffn_down_, n_layers_)) t = GgmlType::Q6_K;
    ++i_ffn_down_;
  }
  // K-quants need whole 256-element super-blocks per row; llama.cpp falls back to legacy types.
  if (ne0 % QK_K != 0) {
    if (t == GgmlType::Q4_K) t = GgmlType::Q5_0;
    else if (t == GgmlType::Q5_K) t = GgmlType::Q5_1;
    else if (t == GgmlType::Q6_K) t = GgmlType::Q8_0;
  }
  if (ne0 % traits(t).block != 0) t = GgmlType::F16;  // not even whole 32-blocks: llama.cpp keeps F16
  return t;
}

}  // namespace qbench::quant
