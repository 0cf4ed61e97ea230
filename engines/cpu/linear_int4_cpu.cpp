#include "engines/cpu/linear_int4_cpu.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "engines/core/env_flag.h"
#include "engines/core/error.h"
#include "engines/cpu/gemm_f32.h"
#include "engines/cpu/int4_kernels.h"
#include "engines/cpu/int4_packed.h"
#include "engines/cpu/int4_vnni.h"

namespace qbench {

namespace {

constexpr int64_t kGemmMinRows = 4;  // as the dense Linear: fewer tokens read the weights once per token
constexpr int64_t kTileRows = 64;

class Int4LinearCpu final : public Linear {
 public:
  Int4LinearCpu(cpu::PackedInt4 p, std::string kind)
      : Linear(p.in, p.out), p_(std::move(p)), kind_(std::move(kind)), vnni_(cpu::int4_vnni_usable(p_) && !vnni_disabled()) {}

  void forward(const float* x, float* y, int64_t n) const override {
    // Activations in the packed input order (act-order permutation), zero-padded to in_pad.
    const int64_t ip = p_.in_pad;
    // Reused across calls (a decode step calls every Linear once per token). thread_local
    // storage is per thread: OpenMP workers below read these buffers through plain pointers.
    thread_local std::vector<float> xp_store;
    thread_local std::vector<cpu::Int4ActI16> act_store;
    xp_store.resize(size_t(n * ip));
    float* const xp = xp_store.data();
    for (int64_t t = 0; t < n; ++t) {
      const float* xs = x + t * in_;
      float* xd = xp + t * ip;
      if (p_.perm.empty()) std::copy(xs, xs + in_, xd);
      else for (int64_t j = 0; j < in_; ++j) xd[j] = xs[p_.perm[size_t(j)]];
      std::fill(xd + in_, xd + ip, 0.f);  // the kernels read the padding
    }
    if (n < kGemmMinRows && vnni_) {
      // int16 activations, one quantisation per token shared by every row (int4_vnni.h).
      act_store.resize(size_t(n));
      for (int64_t t = 0; t < n; ++t) cpu::int4_quantize_act_i16(p_, xp + t * ip, act_store[size_t(t)]);
      const cpu::Int4ActI16* acts = act_store.data();
      const int64_t pairs = out_ / 2;
#pragma omp parallel for schedule(static)
      for (int64_t r = 0; r < pairs; ++r)
        for (int64_t t = 0; t < n; ++t)
          cpu::int4_row_dot2_vnni(p_, 2 * r, acts[t], &y[t * out_ + 2 * r], &y[t * out_ + 2 * r + 1]);
      if (out_ % 2)
        for (int64_t t = 0; t < n; ++t) y[t * out_ + out_ - 1] = cpu::int4_row_dot_vnni(p_, out_ - 1, acts[t]);
      return;
    }
    if (n < kGemmMinRows) {
      const int64_t pairs = out_ / 2;
#pragma omp parallel for schedule(static)
      for (int64_t r = 0; r < pairs; ++r)
        for (int64_t t = 0; t < n; ++t)
          cpu::int4_row_dot2(p_, 2 * r, xp + t * ip, &y[t * out_ + 2 * r], &y[t * out_ + 2 * r + 1]);
      if (out_ % 2)
        for (int64_t t = 0; t < n; ++t) y[t * out_ + out_ - 1] = cpu::int4_row_dot(p_, out_ - 1, xp + t * ip);
      return;
    }
    const int64_t tiles = (out_ + kTileRows - 1) / kTileRows;
#pragma omp parallel
    {
      std::vector<float> tile(size_t(kTileRows * ip));
#pragma omp for schedule(static)
      for (int64_t t = 0; t < tiles; ++t) {
        const int64_t r0 = t * kTileRows, rows = std::min(kTileRows, out_ - r0);
        for (int64_t r = 0; r < rows; ++r) cpu::int4_row_dequant(p_, r0 + r, tile.data() + r * ip);
        cpu::gemm_xbt(xp, n, ip, tile.data(), rows, y + r0, out_);
      }
    }
  }

  void gather_rows(const int32_t* ids, int64_t n, float* out) const override {
    std::vector<float> row(size_t(p_.in_pad));
    for (int64_t i = 0; i < n; ++i) {
      if (ids[i] < 0 || ids[i] >= out_) throw Error("row " + std::to_string(ids[i]) + " out of range");
      cpu::int4_row_dequant(p_, ids[i], row.data());
      float* dst = out + i * in_;
      for (int64_t j = 0; j < in_; ++j) dst[p_.perm.empty() ? j : p_.perm[size_t(j)]] = row[size_t(j)];
    }
  }

  uint64_t weight_bytes() const override { return p_.bytes(); }
  std::string kind() const override { return kind_; }
  const cpu::PackedInt4* int4_packed() const override { return &p_; }

 private:
  // QBENCH_INT4_VNNI=0 keeps the float kernels (for A/B measurements).
  static bool vnni_disabled() { return env_equals("QBENCH_INT4_VNNI", "0"); }

  cpu::PackedInt4 p_;
  std::string kind_;
  bool vnni_;
};

}  // namespace

std::unique_ptr<Linear> make_int4_linear_cpu(const quant::Int4Codes& codes, const std::string& kind) {
  return std::make_unique<Int4LinearCpu>(cpu::pack_int4_for_cpu(codes), kind);
}

}  // namespace qbench
