#pragma once
// Round-to-nearest 4-bit group quantization, in the two flavours the
// ecosystem uses, and the per-group parameter rules GPTQ reuses:
//   GptqSym / GptqAsym: AutoGPTQ's Quantizer (range widened to include 0;
//                       sym: zero = 8), 
//   Awq:                AutoAWQ's pseudo_quantize_tensor (min/max of the group,
//                       zero = −round(min / scale) clamped to 0..15).
// Scales are rounded to F16 when chosen, so what the algorithms see is exactly
// what the written file decodes to.
#include <cstdint>

#include "engines/quant/int4_codes.h"

namespace qbench::quant {

enum class Int4Style { GptqSym, GptqAsym, Awq };

struct GroupParams {
  float scale = 1.f;
  int zero = 8;
};

GroupParams group_params(const float* w, int64_t n, Int4Style style);
inline int quantize_code(float w, GroupParams p) {
  const float r = __builtin_nearbyintf(w / p.scale) + float(p.zero);  // round half to even, as torch.round
  return r < 0.f ? 0 : r > 15.f ? 15 : int(r);
}
inline float dequantize_code(int q, GroupParams p) { return p.scale * (float(q) - float(p.zero)); }

// W [out][in] row-major -> codes with contiguous groups (group_size <= 0: one group per row).
Int4Codes rtn_quantize(const float* w, int64_t out, int64_t in, int64_t group_size, Int4Style style);
// Dense float32 [out][in] of what codes decode to.
void dequantize_all(const Int4Codes& c, float* w);

}  // namespace qbench::quant
