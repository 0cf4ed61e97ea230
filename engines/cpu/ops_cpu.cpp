#include "engines/cpu/ops_cpu.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "engines/core/half.h"
#include "engines/cpu/attention_cpu.h"

namespace qbench {

namespace {

class CpuOps final : public Ops {
 public:
  void* alloc(size_t bytes) override {
    // 64-byte alignment: whole cache lines and aligned AVX-512 loads.
    void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p && bytes) throw std::bad_alloc();
    return p;
  }
  void release(void* p) override { std::free(p); }
  void upload(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void download(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  bool host_memory() const override { return true; }

  void rmsnorm(const float* x, const float* w, float* y, int64_t rows, int64_t dim, float eps) override {
#pragma omp parallel for schedule(static) if (rows > 1)
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * dim;
      float* yr = y + r * dim;
      float ss = 0.f;
      for (int64_t i = 0; i < dim; ++i) ss += xr[i] * xr[i];
      const float inv = 1.0f / std::sqrt(ss / float(dim) + eps);
      for (int64_t i = 0; i < dim; ++i) yr[i] = w[i] * (xr[i] * inv);
    }
  }

  void add_bias(float* y, const float* b, int64_t rows, int64_t dim) override {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < dim; ++i) y[r * dim + i] += b[i];
  }

  void rope(float* x, int64_t rows, int64_t n_heads, int64_t head_dim, const int32_t* pos, double theta) override {
    const int64_t half = head_dim / 2;
    // Same float32 arithmetic as transformers' default RoPE: inv_freq = 1 / theta^(2i/d), angle = pos * inv_freq.
    std::vector<float> inv(half);
    for (int64_t i = 0; i < half; ++i) inv[i] = 1.0f / std::pow(float(theta), float(2 * i) / float(head_dim));
#pragma omp parallel if (rows > 1)
    {
      std::vector<float> c(static_cast<size_t>(half)), s(static_cast<size_t>(half));  // once per thread, not per row
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t i = 0; i < half; ++i) {
        const float a = float(pos[r]) * inv[i];
        c[i] = std::cos(a);
        s[i] = std::sin(a);
      }
      for (int64_t h = 0; h < n_heads; ++h) {
        float* v = x + (r * n_heads + h) * head_dim;
        for (int64_t i = 0; i < half; ++i) {
          const float a = v[i], b = v[i + half];
          v[i] = a * c[i] - b * s[i];
          v[i + half] = b * c[i] + a * s[i];
        }
      }
    }
    }
  }

  void kv_store(KvCache& kv, int64_t layer, int64_t pos0, const float* k, const float* v, int64_t rows) override {
    const int64_t re = kv.row_elems();
    for (int64_t r = 0; r < rows; ++r) {  // rows may straddle KV blocks: one row at a time
      const float* kr = k + r * re;
      const float* vr = v + r * re;
      if (kv.type() == KvType::F32) {
        std::memcpy(kv.row(layer, 0, pos0 + r), kr, size_t(re) * 4);
        std::memcpy(kv.row(layer, 1, pos0 + r), vr, size_t(re) * 4);
      } else {
        uint16_t* kd = reinterpret_cast<uint16_t*>(kv.row(layer, 0, pos0 + r));
        uint16_t* vd = reinterpret_cast<uint16_t*>(kv.row(layer, 1, pos0 + r));
        for (int64_t i = 0; i < re; ++i) { kd[i] = f32_to_f16(kr[i]); vd[i] = f32_to_f16(vr[i]); }
      }
    }
  }

  void attention(const KvCache& kv, int64_t layer, int64_t pos0, const float* q, float* out, int64_t rows,
                 int64_t n_heads) override {
    cpu::attention(kv, layer, pos0, q, out, rows, n_heads);
  }

  void silu_mul(const float* gate, const float* up, float* out, int64_t n) override {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) {
      const float g = gate[i];
      out[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
  }

  void add(float* y, const float* x, int64_t n) override {
    for (int64_t i = 0; i < n; ++i) y[i] += x[i];
  }
};

}  // namespace

std::unique_ptr<Ops> make_cpu_ops() { return std::make_unique<CpuOps>(); }

}  // namespace qbench
