#include "engines/cpu/attention_cpu.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engines/cpu/simd.h"

namespace qbench::cpu {

namespace {

template <class W>
void attend(const KvCache& kv, int64_t layer, int64_t pos0, const float* q, float* out, int64_t rows, int64_t n_heads) {
  using T = typename W::T;
  // With an F16 cache, round Q and the attention probabilities to F16 for their products with K and V, as
  // llama.cpp's CPU backend does (ggml converts the F32 operand of an F16 mat-mul to F16): GGUF logits then
  // track llama.cpp's, and the cost against exact float math stays far inside the FP16 tolerance.
  constexpr bool kHalfProducts = std::is_same_v<W, F16W>;
  const int64_t D = kv.head_dim(), re = kv.row_elems(), group = n_heads / kv.kv_heads();
  // Paged cache: position j lives at row j % B of block table[j / B].
  const int64_t bt = kv.pool().block_tokens();
  const std::vector<int32_t>& table = kv.blocks();
  auto krow = [&](int64_t j) { return reinterpret_cast<const T*>(kv.pool().block_data(layer, 0, table[size_t(j / bt)])) + (j % bt) * re; };
  auto vrow = [&](int64_t j) { return reinterpret_cast<const T*>(kv.pool().block_data(layer, 1, table[size_t(j / bt)])) + (j % bt) * re; };
  const float scale = 1.0f / std::sqrt(float(D));
  const int64_t items = rows * n_heads;
#pragma omp parallel
  {
    std::vector<float> p(static_cast<size_t>(pos0 + rows)), qr(static_cast<size_t>(D));
#pragma omp for schedule(dynamic, 1)
    for (int64_t it = 0; it < items; ++it) {
      const int64_t r = it / n_heads, h = it % n_heads, kvh = h / group, len = pos0 + r + 1;
      const float* qh = q + (r * n_heads + h) * D;
      if constexpr (kHalfProducts) {  // as ggml: the F32 operand of an F16 product is rounded to F16 first
        for (int64_t d = 0; d < D; ++d) qr[size_t(d)] = f16_to_f32(f32_to_f16(qh[d]));
        qh = qr.data();
      }
      float mx = -INFINITY;
      for (int64_t j = 0; j < len; ++j) {
        p[j] = dot<W>(qh, krow(j) + kvh * D, D) * scale;
        mx = std::max(mx, p[j]);
      }
      float sum = 0.f;
      for (int64_t j = 0; j < len; ++j) sum += (p[j] = std::exp(p[j] - mx));
      const float inv = 1.0f / sum;
      float* o = out + (r * n_heads + h) * D;
      std::fill(o, o + D, 0.f);
      for (int64_t j = 0; j < len; ++j) {
        float pj = p[j] * inv;
        if constexpr (kHalfProducts) pj = f16_to_f32(f32_to_f16(pj));
        axpy<W>(pj, vrow(j) + kvh * D, o, D);
      }
    }
  }
}

}  // namespace

void attention(const KvCache& kv, int64_t layer, int64_t pos0, const float* q, float* out, int64_t rows, int64_t n_heads) {
  if (kv.type() == KvType::F32) attend<F32W>(kv, layer, pos0, q, out, rows, n_heads);
  else attend<F16W>(kv, layer, pos0, q, out, rows, n_heads);
}

}  // namespace qbench::cpu
