#include "engines/cpu/int4_packed.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>

#include "engines/core/error.h"

namespace qbench::cpu {

uint64_t PackedInt4::bytes() const {
  return uint64_t(out) * uint64_t(words_per_row()) * 4 + (scale.size() + zero.size()) * sizeof(float) +
         perm.size() * sizeof(int32_t);
}

PackedInt4 pack_int4_for_cpu(const quant::Int4Codes& c) {
  PackedInt4 p;
  p.in = c.in;
  p.out = c.out;
  p.in_pad = (c.in + 127) / 128 * 128;
  p.groups = c.groups;
  p.group_size = c.group_size;
  if (c.groups > 1 && c.group_size % 16 != 0)
    throw Error("int4 CPU kernel: group size " + std::to_string(c.group_size) + " is not a multiple of 16");
  p.slices_per_group = c.groups == 1 ? p.in_pad / 16 : c.group_size / 16;

  // Act-order: sort inputs by group (stable). GPTQ's g_idx puts exactly group_size
  // inputs in every group but the last, so groups become contiguous runs of group_size.
  if (!c.g_idx.empty()) {
    p.perm.resize(size_t(c.in));
    std::iota(p.perm.begin(), p.perm.end(), 0);
    std::stable_sort(p.perm.begin(), p.perm.end(), [&](int32_t a, int32_t b) { return c.g_idx[size_t(a)] < c.g_idx[size_t(b)]; });
    for (int64_t j = 0; j < c.in; ++j)
      if (c.g_idx[size_t(p.perm[size_t(j)])] != j / c.group_size)
        throw Error("g_idx does not assign " + std::to_string(c.group_size) +
                    " inputs to every group (as GPTQ act-order does); this layout is not supported");
  }

  const int64_t wpr = p.words_per_row();
  const size_t nbytes = size_t(c.out) * size_t(wpr) * 4;
  p.codes.reset(static_cast<uint32_t*>(std::aligned_alloc(64, std::max<size_t>(64, (nbytes + 63) / 64 * 64))));
  if (!p.codes) throw Error("int4 CPU kernel: cannot allocate " + std::to_string(nbytes) + " bytes");
  std::memset(p.codes.get(), 0, nbytes);
  p.scale.resize(size_t(c.out * c.groups));
  p.zero.resize(size_t(c.out * c.groups));
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < c.out; ++o) {
    uint32_t* row = p.codes.get() + o * wpr;
    const uint8_t* q = c.q.data() + o * c.in;
    for (int64_t j = 0; j < c.in; ++j) {
      const int64_t src = p.perm.empty() ? j : p.perm[size_t(j)];
      const int64_t chunk = j / 128, r = j % 128;
      row[chunk * 16 + r % 16] |= uint32_t(q[src] & 0xF) << (4 * (r / 16));
    }
    for (int64_t g = 0; g < c.groups; ++g) {
      p.scale[size_t(o * c.groups + g)] = c.scale[size_t(g * c.out + o)];
      p.zero[size_t(o * c.groups + g)] = float(c.zero[size_t(g * c.out + o)]);
    }
  }
  return p;
}

}  // namespace qbench::cpu
