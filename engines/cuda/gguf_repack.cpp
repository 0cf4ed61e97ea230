// Host side of the GGUF device layout (gguf_layout_cuda.h): the file's blocks
// split into code bytes and scales, row by row, in the order the GEMV reads them.
#include <cstring>

#include "engines/core/error.h"
#include "engines/cuda/gguf_layout_cuda.h"
#include "engines/quant/block_layouts.h"

namespace qbench::cuda {

namespace {

using namespace quant;

// The 12 scale bytes of a Q4_K/Q5_K block (8 six-bit scales and mins, ggml's packing) rewritten so that
// the sub-block pair j (0..3) is one 24-bit group at bit 24j: sc[2j] | m[2j] << 6 | sc[2j+1] << 12 | m[2j+1] << 18.
void pack_k_scales(const uint8_t* in, uint8_t* out) {
  uint32_t w[4] = {0, 0, 0, 0};
  for (int j = 0; j < 4; ++j) {
    uint8_t s0, m0, s1, m1;
    scale_min_k4(2 * j, in, s0, m0);
    scale_min_k4(2 * j + 1, in, s1, m1);
    const uint64_t g = uint64_t(s0) | uint64_t(m0) << 6 | uint64_t(s1) << 12 | uint64_t(m1) << 18;
    const int bit = 24 * j;
    const uint64_t v = g << (bit & 31);
    w[bit >> 5] |= uint32_t(v);
    w[(bit >> 5) + 1] |= uint32_t(v >> 32);
  }
  std::memcpy(out, w, 12);
}

// One row: nb blocks from src into the three row slices.
void repack_row(GgmlType t, const uint8_t* src, int64_t in, uint8_t* r0, uint8_t* r1, uint8_t* r2) {
  const int64_t nb32 = in / 32, nbk = in / 256;
  switch (t) {
    case GgmlType::Q8_0:
      for (int64_t b = 0; b < nb32; ++b) {
        const auto* blk = reinterpret_cast<const BlockQ8_0*>(src) + b;
        std::memcpy(r0 + 32 * b, blk->qs, 32);
        std::memcpy(r1 + 2 * b, &blk->d, 2);
      }
      return;
    case GgmlType::Q4_0:
      for (int64_t b = 0; b < nb32; ++b) {
        const auto* blk = reinterpret_cast<const BlockQ4_0*>(src) + b;
        std::memcpy(r0 + 16 * b, blk->qs, 16);
        std::memcpy(r1 + 2 * b, &blk->d, 2);
      }
      return;
    case GgmlType::Q4_1:
      for (int64_t b = 0; b < nb32; ++b) {
        const auto* blk = reinterpret_cast<const BlockQ4_1*>(src) + b;
        std::memcpy(r0 + 16 * b, blk->qs, 16);
        std::memcpy(r1 + 4 * b, &blk->d, 2);
        std::memcpy(r1 + 4 * b + 2, &blk->m, 2);
      }
      return;
    case GgmlType::Q5_0:
      for (int64_t b = 0; b < nb32; ++b) {
        const auto* blk = reinterpret_cast<const BlockQ5_0*>(src) + b;
        std::memcpy(r0 + 16 * b, blk->qs, 16);
        std::memcpy(r1 + 4 * b, blk->qh, 4);
        std::memcpy(r2 + 2 * b, &blk->d, 2);
      }
      return;
    case GgmlType::Q5_1:
      for (int64_t b = 0; b < nb32; ++b) {
        const auto* blk = reinterpret_cast<const BlockQ5_1*>(src) + b;
        std::memcpy(r0 + 16 * b, blk->qs, 16);
        std::memcpy(r1 + 4 * b, blk->qh, 4);
        std::memcpy(r2 + 4 * b, &blk->d, 2);
        std::memcpy(r2 + 4 * b + 2, &blk->m, 2);
      }
      return;
    case GgmlType::Q4_K:
    case GgmlType::Q5_K: {
      const int64_t bb = t == GgmlType::Q4_K ? 144 : 176;
      std::memcpy(r0, src, size_t(bb * nbk));
      for (int64_t b = 0; b < nbk; ++b) pack_k_scales(src + bb * b + 4, r0 + bb * b + 4);
      return;
    }
    case GgmlType::Q6_K:
      for (int64_t b = 0; b < nbk; ++b) {
        const auto* blk = reinterpret_cast<const BlockQ6_K*>(src) + b;
        std::memcpy(r0 + 192 * b, blk->ql, 128);
        std::memcpy(r0 + 192 * b + 128, blk->qh, 64);
        std::memcpy(r1 + 16 * b, blk->scales, 16);
        std::memcpy(r2 + 2 * b, &blk->d, 2);
      }
      return;
    default: throw Error(std::string("GGUF type ") + type_name(t) + " has no CUDA layout");
  }
}

}  // namespace

void gguf_repack_rows(GgmlType t, const uint8_t* blocks, const int32_t* row_map, int64_t in, int64_t out, uint8_t* a0,
                      uint8_t* a1, uint8_t* a2) {
  if (!gguf_cuda_block_type(t)) throw Error(std::string("GGUF type ") + type_name(t) + " has no CUDA layout");
  const uint64_t rb = row_bytes(t, in);  // throws when in is not a multiple of the block
  const GgufRowStrides s = gguf_row_strides(t, in);
  if (s.s0 + s.s1 + s.s2 != rb) throw Error("internal: GGUF CUDA layout does not add up to the row bytes");
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < out; ++o) {
    const uint8_t* src = blocks + uint64_t(row_map ? row_map[o] : o) * rb;
    repack_row(t, src, in, a0 + uint64_t(o) * s.s0, a1 ? a1 + uint64_t(o) * s.s1 : nullptr,
               a2 ? a2 + uint64_t(o) * s.s2 : nullptr);
  }
}

}  // namespace qbench::cuda
