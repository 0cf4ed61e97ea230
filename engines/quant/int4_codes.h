#pragma once
// One 4-bit group-quantized weight matrix in a plain, format-neutral form:
// W[o][i] = scale[g][o] · (q[o][i] − zero[g][o]) with g = group of input i.
// GPTQ and AWQ loaders unpack into it, quantizers produce it, writers pack it,
// and the CPU Linear repacks it for its kernels. One byte per code: a
// transient form (one matrix at a time), never what a loaded model keeps.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace qbench::quant {

struct Int4Codes {
  int64_t in = 0, out = 0;
  int64_t group_size = 0;      // inputs per group; == in when the file says -1 (one group)
  int64_t groups = 0;          // rows of scale / zero
  std::vector<uint8_t> q;      // [out][in], 0..15
  std::vector<uint8_t> zero;   // [groups][out]; 0..16 (classic GPTQ stores zero−1, so 16 is possible)
  std::vector<float> scale;    // [groups][out]
  std::vector<int32_t> g_idx;  // [in]: group of each input (act-order); empty means i / group_size

  int64_t group_of(int64_t i) const { return g_idx.empty() ? i / group_size : g_idx[size_t(i)]; }
  // Exact in float32: (q − z) is a small integer, the scale an F16 value.
  float dequant(int64_t o, int64_t i) const {
    const int64_t g = group_of(i);
    return scale[size_t(g * out + o)] * (float(q[size_t(o * in + i)]) - float(zero[size_t(g * out + o)]));
  }
  // Sizes the vectors for in/out/group_size (group_size <= 0 means one group).
  void resize(int64_t in_features, int64_t out_features, int64_t group);
};

inline void Int4Codes::resize(int64_t in_features, int64_t out_features, int64_t group) {
  in = in_features;
  out = out_features;
  group_size = group <= 0 || group > in ? in : group;
  groups = (in + group_size - 1) / group_size;
  q.assign(size_t(in * out), 0);
  zero.assign(size_t(groups * out), 0);
  scale.assign(size_t(groups * out), 0.f);
  g_idx.clear();
}

}  // namespace qbench::quant
