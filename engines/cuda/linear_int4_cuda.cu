// GPTQ/AWQ int4 Linear on the GPU (issue 7). Upload repacks the CPU's packed
// form (act-order resolved into a permutation) into the device layout of
// int4_kernels_cuda.h: codes, per-group (scale, zero) and the permutation; no
// FP16/FP32 copy of W stays resident.
// - n <= 8 tokens: the tensor-core GEMV (int4_gemv_cuda.cu), queued like the
//   dense GEMV (gemv_args.h): GEMVs over one input merge into one launch (q/k/v,
//   gate/up), and bias / residual adds fold into its epilogue (gemv_fusion.h).
//   The activations become FP16 hi/lo mma fragments (permuted for act-order)
//   in a scratch buffer once per input, shared by the merged GEMVs.
// - n > 8: activations permuted and rounded to FP16 once, W dequantised to FP16
//   one row tile at a time into a scratch buffer (a tile fits in L2), and one
//   cuBLAS GEMM per tile (tensor cores, FP32 accumulate and output), as the dense path.
#include "engines/cuda/linear_int4_cuda.h"

#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "engines/core/env_flag.h"
#include "engines/core/error.h"
#include "engines/core/half.h"
#include "engines/cuda/cublas_gemm.h"
#include "engines/cuda/cuda_check.h"
#include "engines/cuda/cuda_context.h"
#include "engines/cuda/fold_control.h"
#include "engines/cuda/gemv_args.h"
#include "engines/cuda/gemv_fusion.h"
#include "engines/cuda/half_copy.h"
#include "engines/cuda/int4_kernels_cuda.h"
#include "engines/cuda/launch_queue.h"

namespace qbench {

namespace cuda {
namespace {

constexpr int64_t kMaxGemvTokens = 8;
constexpr size_t kTileBytes = size_t(32) << 20;  // FP16 rows dequantised per prefill GEMM (mostly stays in the 50 MB L2)
constexpr int64_t kMinTileRows = 2048;
constexpr uint64_t kGemvKernelTag = 0x1A4B0000;  // | half scales

// A queued int4 GEMV launch. merge_state = {tag, x, n, in, GemvArgs*} as for every GEMV (gemv_args.h),
// so the bias / residual folds of gemv_fusion.h apply; g.W[s] holds segment s's codes.
struct Int4Launch {
  GemvArgs g;  // first member: merge_state's GemvArgs* points here
  const void* sz[kMaxSegments];
  const int32_t* perm;
  const uint4* xf;  // the activation fragments the kernel reads
  int units;
  Int4Groups groups;
  bool hs;
  Int4NormFold nf;  // a folded RMSNorm (fold_rmsnorm_into_int4): this launch does its first half or its second
  Int4SiluFold silu;  // a folded SiLU·mul (fold_silu_into_int4): gate/up write the down GEMV's fragments
};

// A GEMV that took over an RMSNorm has the next GEMV right behind it. Launched at its start (as PDL lets every
// kernel here do), that GEMV's blocks take whichever SMs free up first and spread unevenly (the likely cause,
// not observed directly): GPTQ/AWQ 7B step up to 8 % slower than without the fold; scheduled as this one's
// blocks finish, 0.4-4 % faster (H100, same-run A/Bs, 2026-11-22); with the four-chain GEMV, launching it early
// costs 9-14 % per GPTQ step (2.839 / 2.777 against 3.092 / 3.175 ms). QBENCH_INT4_LATE_TRIGGER=0 launches it
// early (A/B runs).
bool late_trigger() {
  static const bool v = env_int("QBENCH_INT4_LATE_TRIGGER", 1, 0, 1) != 0;
  return v;
}

// Runs a queued launch: segment row blocks from the rows, epilogue as folded in.
void run_gemv(const Int4Launch& L, cudaStream_t s) {
  Int4GemvArgs a{};
  a.nseg = L.g.nseg;
  int64_t rb = 0;
  for (int i = 0; i < L.g.nseg; ++i) {
    const int64_t rows = L.g.end[i] - (i ? L.g.end[i - 1] : 0);
    rb += (rows + kInt4Rows - 1) / kInt4Rows;
    a.seg[i] = {static_cast<const uint4*>(L.g.W[i]), L.sz[i], L.g.y[i], L.g.bias[i], L.g.resid[i], rows, rb};
  }
  a.xf = L.xf;
  a.units = L.units;
  a.g = L.groups;
  a.n = L.g.n;
  a.nf = L.nf;
  a.trigger_late = L.nf.norm_xf && late_trigger();
  a.silu = L.silu;  // triggers down early: late, the step took 2.400 / 2.395 ms against 2.379 / 2.375 (H100)
  launch_int4_gemv(a, L.hs, s);
}

// Per row block sums of x² a GEMV that took over an RMSNorm leaves for the GEMVs after it: one buffer, since
// the next such GEMV runs after those (stream order). Allocated with the first int4 Linear, never inside a
// queue (an allocation may flush it).
constexpr int64_t kNormParts = 16384;  // row blocks: RMSNorms of up to 262144 values
float* norm_partials() {
  static float* p = static_cast<float*>(device_alloc(kNormParts * sizeof(float), "int4 RMSNorm fold sums"));
  return p;
}

// The int4 GEMV launch l, or nullptr (merge_state[4] points at Int4Launch::g, its first member).
Int4Launch* int4_launch_of(Launch* l) {
  GemvArgs* g = gemv_of(l);
  if (!g || (l->merge_state[0] | 1) != (kGemvKernelTag | 1)) return nullptr;
  return reinterpret_cast<Int4Launch*>(g);
}

// The input fragments of a new int4 GEMV launch, alternating between two buffers. A GEMV that took over the
// RMSNorm or the SiLU·mul after it (fold_rmsnorm_into_int4, fold_silu_into_int4) writes the next GEMV's
// fragments while its own blocks still read its input fragments: in one buffer, a block that finished early
// overwrote fragments that slower blocks had yet to read (the fourteenth and fifteenth sessions' flaky [cuda]
// suite: the tiny GPTQ fixture's logits now and then 0.08-0.54 off, one full run in two or three). Consecutive
// launches (o, gate/up, down, q/k/v: each the producer of the next's fragments) therefore take turns.
uint4* fragment_buffer(size_t bytes) {
  static bool alt = false;
  alt = !alt;
  return static_cast<uint4*>(scratch(alt ? Scratch::Int4FragmentsAlt : Scratch::HalfActivations, bytes));
}

struct DevicePerm {
  int32_t* p = nullptr;
  ~DevicePerm() { device_free(p); }
};

// Equal act-order permutations (q/k/v, gate/up: one input, one Hessian order) share one device copy,
// so their GEMVs can merge over one permuted input.
std::shared_ptr<DevicePerm> device_perm(const std::vector<int32_t>& perm) {
  static std::mutex mu;
  static auto* cache = new std::map<std::vector<int32_t>, std::weak_ptr<DevicePerm>>;  // never destroyed
  std::lock_guard<std::mutex> lock(mu);
  for (auto it = cache->begin(); it != cache->end();) it = it->second.expired() ? cache->erase(it) : std::next(it);
  if (auto it = cache->find(perm); it != cache->end())
    if (auto sp = it->second.lock()) return sp;
  auto sp = std::make_shared<DevicePerm>();
  sp->p = static_cast<int32_t*>(device_alloc(perm.size() * sizeof(int32_t), "int4 input permutation"));
  upload_sync(sp->p, perm.data(), perm.size() * sizeof(int32_t), "int4 permutation upload");
  (*cache)[perm] = sp;
  return sp;
}

class Int4LinearCuda final : public Linear {
 public:
  Int4LinearCuda(const cpu::PackedInt4& p, std::string kind) : Linear(p.in, p.out), kind_(std::move(kind)) {
    if (p.in <= 0 || p.out <= 0 || p.groups <= 0) throw Error("int4 CUDA Linear needs a positive shape");
    (void)norm_partials();
    if (p.groups > 1 && (p.group_size <= 0 || p.group_size % 16 != 0))
      throw Error("int4 CUDA Linear: group size " + std::to_string(p.group_size) + " is not a multiple of 16");
    if (p.in > (int64_t(1) << 30)) throw Error("int4 CUDA Linear: input width too large");
    in_pad_ = (in_ + kInt4Unit - 1) / kInt4Unit * kInt4Unit;
    if (p.in_pad != in_pad_ || p.words_per_row() != in_pad_ / 8)
      throw Error("int4 CUDA Linear: the CPU packing is not in 128-input chunks");
    units_ = int(in_pad_ / kInt4Unit);
    row_blocks_ = (out_ + kInt4Rows - 1) / kInt4Rows;
    g_.groups = int(p.groups);
    if (p.groups == 1) {
      g_.gsize = int(in_pad_);
      g_.gshift = 30;  // every input in group 0
    } else {
      g_.gsize = int(p.group_size);
      g_.gshift = (p.group_size & (p.group_size - 1)) == 0 ? __builtin_ctzll(uint64_t(p.group_size)) : -1;
      // Scale intervals of 1, 2, 4 or 8 tiles of 16 inputs that never straddle a group.
      const int64_t tiles = p.group_size / 16;
      g_.tile_mask = tiles % 8 == 0 ? 7 : tiles % 4 == 0 ? 3 : tiles % 2 == 0 ? 1 : 0;
    }
    // F16 scales (what GPTQ/AWQ files hold) go as half2 (s, z); anything else as float2.
    hs_ = true;
    for (float s : p.scale)
      if (!std::isfinite(s) || f16_to_f32(f32_to_f16(s)) != s) {
        hs_ = false;
        break;
      }

    const std::string what = "int4 weights [" + std::to_string(out_) + " x " + std::to_string(in_) + "]";
    const size_t cbytes = int4_code_bytes(row_blocks_, units_);

    // Per row block and group: its rows' (scale, zero); padded rows are zero.
    const size_t entries = size_t(row_blocks_) * size_t(p.groups) * kInt4Rows;
    std::vector<uint32_t> h(hs_ ? entries : 2 * entries, 0);
    for (int64_t o = 0; o < out_; ++o)
      for (int64_t gi = 0; gi < p.groups; ++gi) {
        const size_t e = size_t((o / kInt4Rows) * p.groups + gi) * kInt4Rows + size_t(o % kInt4Rows);
        const float s = p.row_scale(o)[gi], z = p.row_zero(o)[gi];
        if (hs_) {
          h[e] = uint32_t(f32_to_f16(s)) | (uint32_t(f32_to_f16(z)) << 16);
        } else {
          std::memcpy(&h[2 * e], &s, 4);
          std::memcpy(&h[2 * e + 1], &z, 4);
        }
      }
    sz_bytes_ = h.size() * sizeof(uint32_t);

    // Codes and scales in one allocation, as the GGUF and dense Linears do: with a second,
    // small cudaMalloc per Linear for the scales, the 7B shape's cudaMemGetInfo drop exceeded
    // the engine's accounting by 5.6 % (0.37 GB); with one, by 2.6 % (H100, 2026-11-21).
    const size_t sz_off = (cbytes + 255) / 256 * 256;
    mem_ = device_alloc(sz_off + sz_bytes_, what);
    codes_ = static_cast<uint4*>(mem_);
    sz_ = static_cast<uint8_t*>(mem_) + sz_off;
    void* tmp = nullptr;
    try {
      const size_t wbytes = size_t(out_) * size_t(p.words_per_row()) * 4;
      tmp = device_alloc(wbytes, "int4 upload staging");
      QB_CUDA(cudaMemcpyAsync(tmp, p.codes.get(), wbytes, cudaMemcpyHostToDevice, stream()));
      launch_int4_repack(static_cast<const uint32_t*>(tmp), out_, row_blocks_, units_, codes_, stream());
      sync("int4 repack");
      device_free(tmp);
      tmp = nullptr;
      upload_sync(sz_, h.data(), sz_bytes_, "int4 scale upload");
      if (!p.perm.empty()) perm_ = device_perm(p.perm);
    } catch (...) {
      device_free(tmp);
      device_free(mem_);
      throw;
    }
    bytes_ = cbytes + sz_bytes_ + (perm_ ? uint64_t(in_) * 4 : 0);
  }
  ~Int4LinearCuda() override { device_free(mem_); }

  void forward(const float* x, float* y, int64_t n) const override {
    if (n <= 0) return;
    if (n <= kMaxGemvTokens) gemv(x, y, n);
    else gemm(x, y, n);
  }

  void gather_rows(const int32_t* ids, int64_t n, float* out) const override {
    if (n <= 0) return;
    for (int64_t i = 0; i < n; ++i)
      if (ids[i] < 0 || ids[i] >= out_) throw Error("row " + std::to_string(ids[i]) + " out of range");
    gather_rows_device(static_cast<const int32_t*>(stage(ids, size_t(n) * sizeof(int32_t))), n, out);
  }
  void gather_rows_device(const int32_t* d, int64_t n, float* out) const override {
    if (n <= 0) return;
    const uint4* codes = codes_;
    const void* sz = sz_;
    const bool hs = hs_;
    const int units = units_;
    const Int4Groups g = g_;
    const int32_t* perm = perm_ ? perm_->p : nullptr;
    const int64_t in = in_;
    enqueue({key(0x1A4B0100, codes, sz, hs, units, g.groups, g.gsize, g.gshift, perm, d, out, n, in), true,
             [=](cudaStream_t s) { launch_int4_gather(codes, sz, hs, units, g, perm, d, n, in, out, s); }});
  }

  uint64_t weight_bytes() const override { return bytes_; }
  std::string kind() const override { return kind_; }

 private:
  const int32_t* perm() const { return perm_ ? perm_->p : nullptr; }

  void gemv(const float* x, float* y, int64_t n) const {
    const int32_t* pm = perm();
    const uint64_t tag = kGemvKernelTag | (hs_ ? 1 : 0);
    Launch* last = last_launch();
    if (last && last->merge_tag == &kGemvTag && merge_with(*last, tag, x, y, n)) return;

    auto L = std::make_shared<Int4Launch>();  // zeroed: no bias, no residual
    L->g.W[0] = codes_;
    L->g.y[0] = y;
    L->g.end[0] = out_;
    L->g.nseg = 1;
    L->g.in = in_;
    L->g.n = int(n);
    L->sz[0] = sz_;
    L->perm = pm;
    L->units = units_;
    L->groups = g_;
    L->hs = hs_;
    // Once per input (merged GEMVs share it): x permuted, padded and split into FP16 hi/lo fragments,
    // by the launch that produced x where it can (half_copy.h: natural order, no padding), else by a
    // launch of its own.
    uint4* xf = fragment_buffer(int4_xfrag_bytes(n, in_pad_));
    const int64_t in = in_, ip = in_pad_;
    const bool folded = !pm && fold_int4_fragments(x, xf, n, in);  // it refuses padded rows (in % 128 != 0)
    if (!folded)
      enqueue({key(0x1A4B0200, x, xf, pm, n, in, ip), true,
               [=](cudaStream_t s) { launch_int4_xfrag(x, pm, n, in, ip, xf, s); }});
    L->xf = xf;
    Launch l;
    // Every value run_gemv bakes in: the group layout too, since another model's Linear may later sit at the
    // same addresses with other groups and would otherwise replay this graph.
    l.key = key(tag, x, L->xf, n, in_, codes_, sz_, y, out_, g_.tile_mask, g_.groups, g_.gsize, g_.gshift);
    l.merge_tag = &kGemvTag;
    l.merge_state = {tag, kw(x), uint64_t(n), uint64_t(in_), kw(&L->g)};
    l.run = [L](cudaStream_t s) { run_gemv(*L, s); };
    enqueue(std::move(l));
    if (folded) note_half_copy(x, xf, n * in, HalfType::Int4Frag);  // a reader of the copy only (release_f32)
  }

  // Adds this matrix to a queued int4 GEMV over the same input when that is safe; false otherwise.
  bool merge_with(Launch& l, uint64_t tag, const float* x, float* y, int64_t n) const {
    const auto& st = l.merge_state;
    if (st.size() != 5 || st[0] != tag || st[1] != kw(x) || st[2] != uint64_t(n) || st[3] != uint64_t(in_)) return false;
    auto* L = reinterpret_cast<Int4Launch*>(uintptr_t(st[4]));
    if (L->perm != perm() || L->units != units_ || L->groups.groups != g_.groups || L->groups.gshift != g_.gshift ||
        L->groups.gsize != g_.gsize || L->groups.tile_mask != g_.tile_mask || L->hs != hs_)
      return false;
    if (!can_join(L->g, x, in_, y, out_)) return false;
    L->sz[add_segment(L->g, codes_, y, out_)] = sz_;
    l.key.insert(l.key.end(), {kw(codes_), kw(sz_), kw(y), uint64_t(out_)});
    return true;
  }

  void gemm(const float* x, float* y, int64_t n) const {
    const int32_t* pm = perm();
    const int64_t in = in_, ip = in_pad_, out = out_;
    // Activations once: permuted, zero-padded to in_pad, FP16.
    __half* xh = static_cast<__half*>(scratch(Scratch::HalfActivations, size_t(n * ip) * sizeof(__half)));
    // Without act-order or padding that is the plain FP16 copy other GEMMs over x share (half_copy.h).
    const bool plain = !pm && ip == in;
    if (plain)
      ensure_half_copy(0x1A4B0300, x, xh, n * in, HalfType::F16);
    else
      enqueue({key(0x1A4B0300, x, xh, pm, n, in, ip), true,
               [=](cudaStream_t s) { launch_int4_permute_half(x, pm, n, in, ip, xh, s); }});
    // Equal tiles of at most kTileBytes, but at least kMinTileRows rows (a GEMM that short cannot fill the
    // GPU), rows a multiple of 16: no small last GEMM.
    const int64_t max_rows =
        std::max<int64_t>(kMinTileRows, int64_t(kTileBytes / (size_t(ip) * sizeof(__half))) / 16 * 16);
    const int64_t tiles = (out + max_rows - 1) / max_rows;
    const int64_t tile = ((out + tiles - 1) / tiles + 15) / 16 * 16;
    __half* wh = static_cast<__half*>(scratch(Scratch::DequantWeights, size_t(tile * ip) * sizeof(__half)));
    const uint4* codes = codes_;
    const void* sz = sz_;
    const bool hs = hs_;
    const int units = units_;
    const Int4Groups g = g_;
    for (int64_t r0 = 0; r0 < out; r0 += tile) {
      const int64_t rows = std::min(tile, out - r0);
      enqueue({key(0x1A4B0400, codes, sz, wh, r0, rows), true,
               [=](cudaStream_t s) { launch_int4_dequant(codes, sz, hs, units, g, r0, rows, wh, s); }});
      // Run directly, never in a graph (the dense Linear captures its GEMMs: not tried here).
      enqueue_gemm_xwt(0x1A4B0500, wh, xh, CUDA_R_16F, y + r0, rows, n, ip, out, false);
    }
    if (plain) note_half_copy(x, xh, n * in, HalfType::F16);
  }

  std::string kind_;
  int64_t in_pad_ = 0, row_blocks_ = 0;
  int units_ = 0;
  Int4Groups g_;
  bool hs_ = true;
  void* mem_ = nullptr;  // one allocation: codes, then (256-aligned) scales/zeros
  uint4* codes_ = nullptr;
  void* sz_ = nullptr;
  size_t sz_bytes_ = 0;
  std::shared_ptr<DevicePerm> perm_;
  uint64_t bytes_ = 0;
};

}  // namespace

bool fold_rmsnorm_into_int4(size_t i, const float* x, const float* w, int64_t dim, float eps, const void* xf) {
  if (i == 0 || dim % kInt4Unit != 0 || dim / kInt4Rows > kNormParts) return false;
  Launch* la = queued_launch(i - 1);
  Int4Launch* A = int4_launch_of(la);
  if (!A || A->g.n != 1 || A->g.nseg != 1 || A->g.resid[0] != x || A->g.end[0] != dim || A->nf.norm_xf ||
      A->nf.scale_part)
    return false;
  if (A->xf == xf) return false;  // A would overwrite its own input while reading it (fragment_buffer)
  // Every launch after the norm must be an int4 GEMV over its fragments; checked before anything changes.
  if (i + 1 >= queued_count()) return false;
  for (size_t j = i + 1; j < queued_count(); ++j) {
    const Int4Launch* B = int4_launch_of(queued_launch(j));
    if (!B || B->xf != xf || B->g.n != 1 || B->g.in != dim || B->nf.scale_part || B->nf.norm_xf) return false;
  }
  float* part = norm_partials();
  A->nf.norm_w = w;
  A->nf.norm_xf = static_cast<uint32_t*>(const_cast<void*>(xf));
  A->nf.norm_part = part;
  la->key.insert(la->key.end(), {0x5E01, kw(w), kw(xf), kw(part)});
  uint32_t eb;
  std::memcpy(&eb, &eps, 4);
  for (size_t j = i + 1; j < queued_count(); ++j) {
    Launch* lb = queued_launch(j);
    Int4Launch* B = int4_launch_of(lb);
    B->nf.scale_part = part;
    B->nf.scale_parts = int(dim / kInt4Rows);
    B->nf.scale_dim = int(dim);
    B->nf.scale_eps = eps;
    lb->key.insert(lb->key.end(), {0x5E02, kw(part), uint64_t(dim), uint64_t(eb)});
  }
  return true;
}

bool fold_silu_into_int4(size_t i, const float* gate, const float* up, int64_t count, void* xf, int halves,
                         int64_t row) {
  if (i == 0 || !silu_folds_enabled()) return false;
  Launch* la = queued_launch(i - 1);
  Int4Launch* A = int4_launch_of(la);
  if (!A || A->g.nseg != 2 || A->g.n > 4 || A->g.y[0] != gate || A->g.y[1] != up || A->silu.xf || A->nf.norm_xf)
    return false;
  if (A->xf == xf) return false;  // A would overwrite its own input while reading it (fragment_buffer)
  const int64_t rows = A->g.end[0];
  if (A->g.end[1] != 2 * rows || rows % kInt4Rows != 0 || row != rows || count != A->g.n * rows) return false;
  for (int s = 0; s < 2; ++s)
    if (A->g.bias[s] || A->g.resid[s]) return false;
  A->silu = {static_cast<uint32_t*>(xf), halves, rows};
  la->key.insert(la->key.end(), {0x5117, kw(xf), uint64_t(halves)});
  la->merge_tag = nullptr;  // nothing may extend it now
  return true;
}

}  // namespace cuda

std::unique_ptr<Linear> make_int4_linear_cuda(const cpu::PackedInt4& packed, const std::string& kind) {
  return std::make_unique<cuda::Int4LinearCuda>(packed, kind);
}

}  // namespace qbench
