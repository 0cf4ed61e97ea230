#pragma once
// Bit layouts of the int32 words GPTQ (AutoGPTQ/GPTQModel) and AWQ (AutoAWQ
// GEMM) checkpoints store 4-bit codes in. Codes are unpacked to / packed from
// plain arrays; words are read and written with memcpy (the mapped tensor
// data carries no alignment guarantee).
//
//   GPTQ qweight [in/8][out]:  nibble (i mod 8) of word [i/8][o] is q[o][i]
//   GPTQ qzeros  [G][out/8]:   nibble (o mod 8) of word [g][o/8] is z[g][o] (− 1 in the classic format)
//   AWQ  qweight [in][out/8], qzeros [G][out/8]: column 8c + kAwqOrder[k] sits in nibble k of word c
#include <cstdint>

namespace qbench::quant {

// Output column (within its 8) held by nibble k of an AWQ word.
inline constexpr int kAwqOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};

// GPTQ qweight <-> codes q[out][in] (in % 8 == 0).
void gptq_unpack_qweight(const void* words, int64_t in, int64_t out, uint8_t* q);
void gptq_pack_qweight(const uint8_t* q, int64_t in, int64_t out, int32_t* words);

// Rows of codes [rows][cols] <-> rows of words [rows][cols/8] packed along the
// columns (cols % 8 == 0), in sequential (GPTQ qzeros) or AWQ nibble order.
// `offset` is subtracted when packing and added when unpacking (1 for classic
// GPTQ zeros); packing stores (code − offset) mod 16.
void unpack_cols(const void* words, int64_t rows, int64_t cols, bool awq_order, int offset, uint8_t* codes);
void pack_cols(const uint8_t* codes, int64_t rows, int64_t cols, bool awq_order, int offset, int32_t* words);

// AWQ qweight [in][out/8] <-> codes q[out][in] (transposing).
void awq_unpack_qweight(const void* words, int64_t in, int64_t out, uint8_t* q);
void awq_pack_qweight(const uint8_t* q, int64_t in, int64_t out, int32_t* words);

}  // namespace qbench::quant
