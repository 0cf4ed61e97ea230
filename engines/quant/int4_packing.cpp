#include "engines/quant/int4_packing.h"

#include <cstring>

namespace qbench::quant {

namespace {

uint32_t word_at(const void* base, int64_t idx) {
  uint32_t w;
  std::memcpy(&w, static_cast<const uint8_t*>(base) + idx * 4, 4);
  return w;
}

}  // namespace

void gptq_unpack_qweight(const void* words, int64_t in, int64_t out, uint8_t* q) {
  for (int64_t r = 0; r < in / 8; ++r)
    for (int64_t o = 0; o < out; ++o) {
      const uint32_t w = word_at(words, r * out + o);
      for (int k = 0; k < 8; ++k) q[o * in + r * 8 + k] = uint8_t((w >> (4 * k)) & 0xF);
    }
}

void gptq_pack_qweight(const uint8_t* q, int64_t in, int64_t out, int32_t* words) {
  for (int64_t r = 0; r < in / 8; ++r)
    for (int64_t o = 0; o < out; ++o) {
      uint32_t w = 0;
      for (int k = 0; k < 8; ++k) w |= uint32_t(q[o * in + r * 8 + k] & 0xF) << (4 * k);
      words[r * out + o] = int32_t(w);
    }
}

void unpack_cols(const void* words, int64_t rows, int64_t cols, bool awq_order, int offset, uint8_t* codes) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols / 8; ++c) {
      const uint32_t w = word_at(words, r * (cols / 8) + c);
      for (int k = 0; k < 8; ++k) {
        const int col = awq_order ? kAwqOrder[k] : k;
        codes[r * cols + c * 8 + col] = uint8_t(((w >> (4 * k)) & 0xF) + offset);
      }
    }
}

void pack_cols(const uint8_t* codes, int64_t rows, int64_t cols, bool awq_order, int offset, int32_t* words) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols / 8; ++c) {
      uint32_t w = 0;
      for (int k = 0; k < 8; ++k) {
        const int col = awq_order ? kAwqOrder[k] : k;
        w |= uint32_t((codes[r * cols + c * 8 + col] - offset) & 0xF) << (4 * k);
      }
      words[r * (cols / 8) + c] = int32_t(w);
    }
}

void awq_unpack_qweight(const void* words, int64_t in, int64_t out, uint8_t* q) {
  for (int64_t i = 0; i < in; ++i)
    for (int64_t c = 0; c < out / 8; ++c) {
      const uint32_t w = word_at(words, i * (out / 8) + c);
      for (int k = 0; k < 8; ++k) q[(c * 8 + kAwqOrder[k]) * in + i] = uint8_t((w >> (4 * k)) & 0xF);
    }
}

void awq_pack_qweight(const uint8_t* q, int64_t in, int64_t out, int32_t* words) {
  for (int64_t i = 0; i < in; ++i)
    for (int64_t c = 0; c < out / 8; ++c) {
      uint32_t w = 0;
      for (int k = 0; k < 8; ++k) w |= uint32_t(q[(c * 8 + kAwqOrder[k]) * in + i] & 0xF) << (4 * k);
      words[i * (out / 8) + c] = int32_t(w);
    }
}

}  // namespace qbench::quant
