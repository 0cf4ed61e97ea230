#pragma once
// The 16-bit copy of an FP32 activation that cuBLAS GEMMs read (FP16, or BF16
// for BF16 weights). It is made once per x, and preferably by no launch of its
// own: when the last queued launch is the one that writes x (RMSNorm, the
// residual add + RMSNorm, SiLU·mul), that launch also writes the copy. Otherwise
// a conversion is queued. GEMMs that read the same x in a row (q/k/v, gate/up)
// share the copy. A decode step at 64 tokens made 4 conversions per layer; now
// only o's input (attention's output) is converted.
//
// Include from CUDA-aware sources only.
#include <cstdint>

#include "engines/cuda/launch_queue.h"

namespace qbench::cuda {

// Besides the 16-bit copies, two other forms of x a producer may write for the GEMV after it: the int4
// GEMV's activation fragments (Int4Frag, int4_xfrag.cuh: FP16 hi/lo pairs) and the GGUF GEMV's int8 runs
// (GgufQ8, gguf_blocks_cuda.cuh quant16: codes, then (scale, sum) per 16 values).
enum class HalfType : int { None = 0, F16 = 1, BF16 = 2, Int4Frag = 3, GgufQ8 = 4 };

// The forms a producer can write (bit 1 << HalfType).
enum HalfCaps : unsigned {
  kCapF16 = 1u << 1,
  kCapBF16 = 1u << 2,
  kCapInt4Frag = 1u << 3,
  kCapGgufQ8 = 1u << 4,
};
constexpr unsigned kCapsScalar = kCapF16 | kCapBF16 | kCapInt4Frag;  // producers storing single values
// Producers storing 4 consecutive values per thread, consecutive threads in order, every lane quad (16
// values) complete: they can also quantise runs of 16 (store_half4).
constexpr unsigned kCapsVec4 = kCapsScalar | kCapGgufQ8;

// Queues what makes xh[0..cnt) = x[0..cnt) rounded to t (round to nearest even), unless the copy is already
// there: made for the previous GEMM over the same x with nothing queued since, or folded into the producer.
// tag: a key word for the conversion launch.
void ensure_half_copy(uint64_t tag, const float* x, void* xh, int64_t cnt, HalfType t);
// Call after queueing the GEMM that reads xh: the copy stays usable for the next ensure_half_copy over the
// same x as long as nothing else is queued in between.
void note_half_copy(const float* x, const void* xh, int64_t cnt, HalfType t);

// For a producer launch that can also write the 16-bit copy of its output x[0..cnt): where its kernel
// finds the copy's destination (null: none) and type, filled in when a consumer folds into it.
struct HalfOut {
  void* p = nullptr;
  HalfType type = HalfType::None;
  bool only = false;  // write the copy only, not x itself (release_f32); RMSNorm and SiLU·mul honour it
  int64_t row = 0;    // Int4Frag: inputs per token (a multiple of 128)
  int halves = 0;     // Int4Frag: fragment halves (int4_xfrag_halves)
  void* p2 = nullptr; // GgufQ8: the runs' (scale bits, code sum) pairs; p holds the codes
};
// Marks l (the producer, before enqueue) as able to take on x's copy in the forms caps names: *out must
// live as long as l's run (hold it in the launch's shared arguments). Other consumers convert for themselves.
void offer_half_copy(Launch& l, const float* x, int64_t cnt, HalfOut* out, unsigned caps);

// The int4 GEMV over x [n, row] (natural input order, row a multiple of 128, n <= 8) reads its activation
// fragments xf: true if the launch producing x now writes them (RMSNorm, SiLU·mul, the attention's combine
// pass; not the tensor-core decode kernel, which writes FP16 only), so that no packing launch is needed.
bool fold_int4_fragments(const float* x, void* xf, int64_t n, int64_t row);
// The GGUF GEMV over x [cnt values, a multiple of 16] reads its int8 runs xq (codes) and xs ((scale bits,
// sum) per run): true if the launch producing x now writes them (the same producers; the combine pass only
// where the head size is a multiple of 16).
bool fold_gguf_runs(const float* x, void* xq, void* xs, int64_t cnt);

// x's FP32 values will not be read again before x is written anew (the transformer says so after x's last
// reader). If the copy was folded into the launch producing x and every launch queued since is a GEMM that
// read the copy (each noted it), that producer writes only the copy: at a 2048-token prefill chunk of the
// 7B shape, 155 MB less written per layer by SiLU·mul. Otherwise nothing changes.
void release_f32(const float* x, int64_t cnt);

}  // namespace qbench::cuda
