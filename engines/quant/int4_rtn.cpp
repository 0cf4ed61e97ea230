#include "engines/quant/int4_rtn.h"

#include <algorithm>
#include <cmath>

#include "engines/core/half.h"

namespace qbench::quant {

namespace {

float f16_round(float v) { return f16_to_f32(f32_to_f16(v)); }

}  // namespace

GroupParams group_params(const float* w, int64_t n, Int4Style style) {
  float mn = w[0], mx = w[0];
  for (int64_t i = 1; i < n; ++i) mn = std::min(mn, w[i]), mx = std::max(mx, w[i]);
  GroupParams p;
  if (style == Int4Style::Awq) {
    p.scale = f16_round(std::max(mx - mn, 1e-5f) / 15.f);
    p.zero = std::clamp(int(-std::nearbyint(mn / p.scale)), 0, 15);
    return p;
  }
  mn = std::min(mn, 0.f);
  mx = std::max(mx, 0.f);
  if (style == Int4Style::GptqSym) {
    mx = std::max(-mn, mx);
    if (mn < 0) mn = -mx;
  }
  if (mn == 0.f && mx == 0.f) mn = -1.f, mx = 1.f;
  p.scale = f16_round((mx - mn) / 15.f);
  if (p.scale == 0.f) p.scale = f16_to_f32(1);  // smallest F16 subnormal: range below F16 resolution
  // Classic GPTQ files store zero − 1 in a nibble, so a zero of 0 cannot be written: keep 1..15.
  p.zero = style == Int4Style::GptqSym ? 8 : std::clamp(int(std::nearbyint(-mn / p.scale)), 1, 15);
  return p;
}

Int4Codes rtn_quantize(const float* w, int64_t out, int64_t in, int64_t group_size, Int4Style style) {
  Int4Codes c;
  c.resize(in, out, group_size);
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < out; ++o)
    for (int64_t g = 0; g < c.groups; ++g) {
      const int64_t i0 = g * c.group_size, n = std::min(c.group_size, in - i0);
      const GroupParams p = group_params(w + o * in + i0, n, style);
      c.scale[size_t(g * out + o)] = p.scale;
      c.zero[size_t(g * out + o)] = uint8_t(p.zero);
      for (int64_t i = 0; i < n; ++i) c.q[size_t(o * in + i0 + i)] = uint8_t(quantize_code(w[o * in + i0 + i], p));
    }
  return c;
}

void dequantize_all(const Int4Codes& c, float* w) {
  for (int64_t o = 0; o < c.out; ++o)
    for (int64_t i = 0; i < c.in; ++i) w[o * c.in + i] = c.dequant(o, i);
}

}  // namespace qbench::quant
