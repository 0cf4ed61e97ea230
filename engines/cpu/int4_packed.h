#pragma once
// The in-memory layout of an int4 weight matrix for the CPU kernels, built
// once at load time from quant::Int4Codes (GPTQ or AWQ alike):
//
// - act-order is resolved here: inputs are permuted so every group is one
//   contiguous run (the activation vector is permuted to match, once per forward);
// - each row is padded to a multiple of 128 inputs and stored as 128-input
//   chunks of 16 uint32 words: nibble j of word k holds the code of input
//   16·j + k of the chunk, so one 512-bit load gives 8 vectors of 16 codes by
//   shifting alone (a vpermps then reads only the low 4 bits of each lane);
// - per row and group: scale and zero as float32 (w = s·(q − z), exact).
//
// Memory: in_pad/2 bytes per row of codes + 8 bytes per row and group
// (+ 4 bytes per input for the act-order permutation). No float copy of W.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "engines/quant/int4_codes.h"

namespace qbench::cpu {

struct PackedInt4 {
  int64_t in = 0, out = 0;
  int64_t in_pad = 0;            // in rounded up to 128
  int64_t group_size = 0;        // contiguous after permutation; == in for one group
  int64_t groups = 0;
  int64_t slices_per_group = 0;  // 16-input slices per group (the kernels' group stride)
  std::vector<int32_t> perm;     // permuted input j is original input perm[j]; empty = identity
  struct FreeDeleter { void operator()(void* p) const { std::free(p); } };
  std::unique_ptr<uint32_t[], FreeDeleter> codes;  // [out][in_pad/8], 64-byte aligned
  std::vector<float> scale, zero;                  // [out][groups]

  int64_t words_per_row() const { return in_pad / 8; }
  const uint32_t* row_codes(int64_t o) const { return codes.get() + o * words_per_row(); }
  const float* row_scale(int64_t o) const { return scale.data() + o * groups; }
  const float* row_zero(int64_t o) const { return zero.data() + o * groups; }
  uint64_t bytes() const;
};

// Throws qbench::Error when the groups cannot be made contiguous and equal-sized
// (g_idx not from a GPTQ act-order run) or the group size is not a multiple of 16.
PackedInt4 pack_int4_for_cpu(const quant::Int4Codes& c);

// The code of permuted input j of row o (for tests and the scalar reference).
inline int packed_code(const PackedInt4& p, int64_t o, int64_t j) {
  const int64_t chunk = j / 128, r = j % 128;
  return int((p.row_codes(o)[chunk * 16 + r % 16] >> (4 * (r / 16))) & 0xF);
}

}  // namespace qbench::cpu
