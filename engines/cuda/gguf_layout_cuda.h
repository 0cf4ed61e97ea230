#pragma once
// How a GGUF matrix lies in device memory (host and device code share it).
//
// The file's blocks are split per row into up to three arrays so that every
// lane of a GEMV warp reads its codes with one 16-byte load (ggml blocks of 18,
// 20, 22, 34 or 210 bytes are not 16-byte aligned): a0 holds the code bytes,
// a1 / a2 the scales and high bits. Q4_K and Q5_K blocks (144 and 176 bytes)
// are aligned already and stay blocks in a0, their 12 bytes of 6-bit scales and
// mins regrouped per sub-block pair (one 24-bit field each, cheap to decode).
// The bytes are the file's bytes, only reordered: a row of any type takes
// row_bytes(type, in) in all.
//
// | type | a0 (per row)                  | a1 (per row)             | a2 (per row)          |
// | Q8_0 | qs: in int8                   | d: in/32 half            | –                     |
// | Q4_0 | qs: in/32 x 16 bytes          | d: half                  | –                     |
// | Q4_1 | qs                            | (d, m): half2            | –                     |
// | Q5_0 | qs                            | qh: uint32 per block     | d: half               |
// | Q5_1 | qs                            | qh                       | (d, m): half2         |
// | Q4_K | blocks (144 B), scales regrouped | –                     | –                     |
// | Q5_K | blocks (176 B), scales regrouped | –                     | –                     |
// | Q6_K | ql[128] qh[64] per block      | scales: 16 int8 per block| d: half per block     |
#include <cstdint>

#include "engines/quant/ggml_type.h"

#ifdef __CUDACC__
#define QB_HD __host__ __device__
#else
#define QB_HD
#endif

namespace qbench::cuda {

struct GgufRowStrides {
  uint64_t s0 = 0, s1 = 0, s2 = 0;  // bytes per row of a0, a1, a2 (0: array unused)
};

QB_HD inline GgufRowStrides gguf_row_strides(quant::GgmlType t, int64_t in) {
  const uint64_t nb32 = uint64_t(in) / 32, nbk = uint64_t(in) / 256;
  using quant::GgmlType;
  switch (t) {
    case GgmlType::Q8_0: return {uint64_t(in), 2 * nb32, 0};
    case GgmlType::Q4_0: return {16 * nb32, 2 * nb32, 0};
    case GgmlType::Q4_1: return {16 * nb32, 4 * nb32, 0};
    case GgmlType::Q5_0: return {16 * nb32, 4 * nb32, 2 * nb32};
    case GgmlType::Q5_1: return {16 * nb32, 4 * nb32, 4 * nb32};
    case GgmlType::Q4_K: return {144 * nbk, 0, 0};
    case GgmlType::Q5_K: return {176 * nbk, 0, 0};
    case GgmlType::Q6_K: return {192 * nbk, 16 * nbk, 2 * nbk};
    default: return {};
  }
}

// True for the block types the CUDA GGUF Linear handles (F32/F16/BF16 go to the dense Linear).
inline bool gguf_cuda_block_type(quant::GgmlType t) {
  using quant::GgmlType;
  switch (t) {
    case GgmlType::Q8_0: case GgmlType::Q4_0: case GgmlType::Q4_1: case GgmlType::Q5_0:
    case GgmlType::Q5_1: case GgmlType::Q4_K: case GgmlType::Q5_K: case GgmlType::Q6_K: return true;
    default: return false;
  }
}

// Splits rows [0, out) of the file's blocks (row o read from stored row row_map[o]
// when row_map is given) into the three arrays (host memory, strides as above).
// OpenMP over rows.
void gguf_repack_rows(quant::GgmlType t, const uint8_t* blocks, const int32_t* row_map, int64_t in, int64_t out,
                      uint8_t* a0, uint8_t* a1, uint8_t* a2);

}  // namespace qbench::cuda
