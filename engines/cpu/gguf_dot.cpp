#include "engines/cpu/gguf_dot.h"

#include "engines/cpu/gguf_dot_simd.h"
#include "engines/quant/vec_dot_ref.h"

namespace qbench::cpu {

namespace {
template <quant::GgmlType T>
float ref_dot(const void* w, const void* a, int64_t n) {
  return quant::vec_dot_ref(T, w, a, n);
}
}  // namespace

GgufDotFn gguf_dot_kernel(quant::GgmlType t) {
  if (GgufDotFn f = simd_dot_kernel(t)) return f;
  using quant::GgmlType;
  switch (t) {
    case GgmlType::F32: return ref_dot<GgmlType::F32>;
    case GgmlType::F16: return ref_dot<GgmlType::F16>;
    case GgmlType::BF16: return ref_dot<GgmlType::BF16>;
    case GgmlType::Q4_0: return ref_dot<GgmlType::Q4_0>;
    case GgmlType::Q4_1: return ref_dot<GgmlType::Q4_1>;
    case GgmlType::Q5_0: return ref_dot<GgmlType::Q5_0>;
    case GgmlType::Q5_1: return ref_dot<GgmlType::Q5_1>;
    case GgmlType::Q8_0: return ref_dot<GgmlType::Q8_0>;
    case GgmlType::Q4_K: return ref_dot<GgmlType::Q4_K>;
    case GgmlType::Q5_K: return ref_dot<GgmlType::Q5_K>;
    case GgmlType::Q6_K: return ref_dot<GgmlType::Q6_K>;
    default: return nullptr;
  }
}

const char* gguf_dot_isa(quant::GgmlType t) { return simd_dot_kernel(t) ? simd_dot_isa() : "scalar"; }

}  // namespace qbench::cpu
