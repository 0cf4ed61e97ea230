// GGUF Linear on the GPU (issue 7): the file's blocks copied once to device
// memory (split per row into codes and scales, gguf_layout_cuda.h; the same
// bytes), with
//  - n <= 8 tokens: the GGUF GEMV (gguf_gemv_cuda.cu), merged over q/k/v and
//    gate/up like the dense GEMV and with the bias / residual epilogue of
//    gemv_fusion.h;
//  - n > 8: W dequantised to an FP16 scratch in row chunks and one cuBLAS GEMM
//    per chunk (tensor cores, FP32 accumulate), activations rounded to FP16;
//  - gather_rows: rows dequantised exactly as dequant_ref (the embedding).
// F32/F16/BF16 GGUF tensors are dense Linears (linear_dense_cuda.h).
#include "engines/cuda/linear_gguf_cuda.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <vector>

#include "engines/core/error.h"
#include "engines/cuda/cublas_gemm.h"
#include "engines/cuda/cuda_check.h"
#include "engines/cuda/cuda_context.h"
#include "engines/cuda/gemv_fusion.h"
#include "engines/cuda/gguf_kernels_cuda.h"
#include "engines/cuda/half_copy.h"
#include "engines/cuda/launch_queue.h"
#include "engines/cuda/linear_dense_cuda.h"

namespace qbench {

namespace cuda {
namespace {

using quant::GgmlType;

// Weights dequantised per cuBLAS call: 96 Mi values = 192 MiB of FP16 scratch at most (a 3584 x 18944 gate/up
// matrix is one chunk of 130 MiB); bounds the scratch whatever the matrix (the LM head is 545 M values).
// Measured on the H100, Qwen2.5-7B Q4_K_M, prompt 512: TTFT 47.4 ms with 8 Mi, 42.4 with 24 Mi, 40.3 with 96 Mi.
constexpr int64_t kChunkElems = int64_t(96) << 20;
// QBENCH_GGUF_CHUNK_MI overrides it (Mi values), for measuring.
int64_t chunk_elems() {
  static const int64_t v = [] {
    const char* e = std::getenv("QBENCH_GGUF_CHUNK_MI");
    const long long mi = e ? std::atoll(e) : 0;
    return mi > 0 ? int64_t(mi) << 20 : kChunkElems;
  }();
  return v;
}
// Host staging while copying to the device: rows repacked per 64 MiB.
constexpr uint64_t kUploadChunkBytes = uint64_t(64) << 20;
// First key word of a GGUF GEMV launch: kTagBase + ggml type id.
constexpr uint64_t kTagBase = 0x600;

uint64_t align256(uint64_t b) { return (b + 255) / 256 * 256; }

class GgufLinearCuda final : public Linear {
 public:
  GgufLinearCuda(const GgufBlocksView& v, int64_t in, int64_t out) : Linear(in, out), type_(v.type) {
    if (in <= 0 || out <= 0) throw Error("GGUF CUDA Linear needs a positive shape");
    if (!gguf_cuda_block_type(type_)) throw Error(std::string("GGUF type ") + quant::type_name(type_) + " has no CUDA kernel");
    const uint64_t rb = quant::row_bytes(type_, in);  // throws unless in is a multiple of the block
    st_ = gguf_row_strides(type_, in);
    const uint64_t b0 = st_.s0 * uint64_t(out), b1 = st_.s1 * uint64_t(out), b2 = st_.s2 * uint64_t(out);
    bytes_ = b0 + b1 + b2;
    const uint64_t o1 = align256(b0), o2 = o1 + align256(b1);
    mem_ = static_cast<uint8_t*>(device_alloc(o2 + b2, std::string("GGUF ") + quant::type_name(type_) + " weights [" +
                                                         std::to_string(out) + " x " + std::to_string(in) + "]"));
    a0_ = mem_;
    a1_ = b1 ? mem_ + o1 : nullptr;
    a2_ = b2 ? mem_ + o2 : nullptr;
    const auto* src = static_cast<const uint8_t*>(v.blocks);
    try {
      const int64_t chunk = std::max<int64_t>(1, int64_t(kUploadChunkBytes / rb));
      std::vector<uint8_t> h0, h1, h2;
      for (int64_t r0 = 0; r0 < out; r0 += chunk) {
        const int64_t rows = std::min(chunk, out - r0);
        h0.resize(st_.s0 * rows);
        h1.resize(st_.s1 * rows);
        h2.resize(st_.s2 * rows);
        const int32_t* map = v.row_map ? v.row_map + r0 : nullptr;
        gguf_repack_rows(type_, map ? src : src + uint64_t(r0) * rb, map, in, rows, h0.data(), h1.data(), h2.data());
        upload_sync(a0_ + st_.s0 * r0, h0.data(), h0.size(), "GGUF weight upload");
        if (a1_) upload_sync(a1_ + st_.s1 * r0, h1.data(), h1.size(), "GGUF weight upload");
        if (a2_) upload_sync(a2_ + st_.s2 * r0, h2.data(), h2.size(), "GGUF weight upload");
      }
    } catch (...) {
      device_free(mem_);
      throw;
    }
  }
  ~GgufLinearCuda() override { device_free(mem_); }

  void forward(const float* x, float* y, int64_t n) const override {
    if (n <= 0) return;
    if (n <= kGgufMaxGemvTokens) {
      gemv(x, y, n);
      return;
    }
    // Prefill: x to FP16 once, then per row chunk: dequantise W to FP16, one GEMM (cuBLAS column-major:
    // Y^T[rows, n] = W[rows, in] · X^T[in, n], op(A) = T on W stored [in, rows]; C at y + r0 with ldc = out).
    const int64_t in = in_, out = out_;
    int64_t chunk = std::min(out, std::max<int64_t>(1, chunk_elems() / in));
    if (chunk > 64) chunk = chunk / 64 * 64;
    const uint64_t xbytes = align256(uint64_t(n * in) * sizeof(__half));
    auto* sc = static_cast<uint8_t*>(scratch(Scratch::HalfActivations, xbytes + uint64_t(chunk * in) * sizeof(__half)));
    auto* xh = reinterpret_cast<__half*>(sc);
    auto* wh = reinterpret_cast<__half*>(sc + xbytes);
    const int64_t cnt = n * in;
    ensure_half_copy(0x610, x, xh, cnt, HalfType::F16);
    const GgmlType t = type_;
    const GgufRowStrides st = st_;
    for (int64_t r0 = 0; r0 < out; r0 += chunk) {
      const int64_t rows = std::min(chunk, out - r0);
      const uint8_t* p0 = a0_ + st.s0 * r0;
      const uint8_t* p1 = a1_ ? a1_ + st.s1 * r0 : nullptr;
      const uint8_t* p2 = a2_ ? a2_ + st.s2 * r0 : nullptr;
      enqueue({key(0x611, uint32_t(t), p0, in, rows, wh), true, [=](cudaStream_t s) {
                 launch_gguf_dequant_f16(t, p0, p1, p2, in, rows, wh, s);
               }});
      // Run directly, never inside a graph (the dense Linear captures its GEMMs: not tried here).
      enqueue_gemm_xwt(0x612, wh, xh, CUDA_R_16F, y + r0, rows, n, in, out, false);
    }
    note_half_copy(x, xh, cnt, HalfType::F16);
  }

  void gather_rows(const int32_t* ids, int64_t n, float* out) const override {
    if (n <= 0) return;
    for (int64_t i = 0; i < n; ++i)
      if (ids[i] < 0 || ids[i] >= out_) throw Error("row " + std::to_string(ids[i]) + " out of range");
    // Token ids are staged (read on the device): a decode step's launch is the same whatever the token.
    gather_rows_device(static_cast<const int32_t*>(stage(ids, size_t(n) * sizeof(int32_t))), n, out);
  }
  void gather_rows_device(const int32_t* d, int64_t n, float* out) const override {
    if (n <= 0) return;
    const GgmlType t = type_;
    const uint8_t *p0 = a0_, *p1 = a1_, *p2 = a2_;
    const int64_t in = in_;
    enqueue({key(0x613, uint32_t(t), p0, d, out, in, n), true, [=](cudaStream_t s) {
               launch_gguf_gather(t, p0, p1, p2, in, d, n, out, s);
             }});
  }

  uint64_t weight_bytes() const override { return bytes_; }
  std::string kind() const override { return quant::type_name(type_); }

 private:
  // Queues y = x·Wᵀ; joins the last queued launch when it is a GGUF GEMV of the same type over the same x and n.
  // Otherwise x is quantised first (one small launch), unless the last launch is a GGUF GEMV of another type over
  // the same x that left its quantised copy in place (q/k as Q4_K, v as Q6_K).
  void gemv(const float* x, float* y, int64_t n) const {
    const uint64_t tag = kTagBase + uint64_t(type_);
    Launch* last = last_launch();
    if (last && last->merge_tag == &kGemvTag && merge_with(*last, tag, x, y, n)) return;

    const uint64_t qbytes = align256(uint64_t(n * in_));
    const int8_t* xq = nullptr;
    const int2* xs = nullptr;
    bool folded = false;
    if (const GgufGemvArgs* p = reusable_quantized(x, n, in_)) {
      xq = p->xq;
      xs = p->xs;
    } else {
      // The scratch may grow (and flush the queue) here: ask for it before looking at the queue again.
      auto* sc = static_cast<uint8_t*>(scratch(Scratch::HalfActivations, qbytes + uint64_t(n * in_ / 16) * sizeof(int2)));
      int8_t* q = reinterpret_cast<int8_t*>(sc);
      int2* m = reinterpret_cast<int2*>(sc + qbytes);
      const int64_t in = in_;
      // By the launch that produced x where it can (half_copy.h), else by a launch of its own.
      folded = fold_gguf_runs(x, q, m, n * in);
      if (!folded)
        enqueue({key(0x620, x, q, m, n, in), true, [=](cudaStream_t s) { launch_gguf_quantize(x, n, in, q, m, s); }});
      xq = q;
      xs = m;
    }
    auto args = std::make_shared<GgufGemvArgs>();  // zeroed: no bias, no residual
    args->g.W[0] = a0_;
    args->a1[0] = a1_;
    args->a2[0] = a2_;
    args->g.y[0] = y;
    args->g.end[0] = out_;
    args->g.nseg = 1;
    args->g.in = in_;
    args->g.n = int(n);
    args->xq = xq;
    args->xs = xs;
    Launch l;
    l.key = key(tag, x, n, in_, a0_, y, out_, xq, xs);
    l.merge_tag = &kGemvTag;
    l.merge_state = {tag, kw(x), uint64_t(n), uint64_t(in_), kw(&args->g)};
    const GgmlType t = type_;
    l.run = [args, t](cudaStream_t s) {
      GgufGemvArgs a = *args;  // segments and folded epilogue as they stand now
      int64_t g = 0;
      for (int i = 0; i < a.g.nseg; ++i) {
        const int64_t rows = a.g.end[i] - (i ? a.g.end[i - 1] : 0);
        g += (rows + kGgufRowsPerWarp - 1) / kGgufRowsPerWarp;
        a.gend[i] = g;
      }
      launch_gguf_gemv(t, a, s);
    };
    enqueue(std::move(l));
    if (folded) note_half_copy(x, xq, n * in_, HalfType::GgufQ8);  // a reader of the runs only (release_f32)
  }

  // The last queued launch's quantised x when it is a GGUF GEMV over the same x and n whose quantised copy
  // (made just before it) is still intact: that GEMV wrote only its outputs (checked not to overlap x) and no
  // folded residual add (which might).
  static const GgufGemvArgs* reusable_quantized(const float* x, int64_t n, int64_t in) {
    Launch* last = last_launch();
    if (!last || last->merge_tag != &kGemvTag) return nullptr;
    const auto& st = last->merge_state;
    if (st.size() != 5 || st[0] < kTagBase || st[0] >= kTagBase + 0x100 || st[1] != kw(x) || st[2] != uint64_t(n) ||
        st[3] != uint64_t(in))
      return nullptr;
    const auto* a = reinterpret_cast<const GgufGemvArgs*>(uintptr_t(st[4]));
    for (int s = 0; s < a->g.nseg; ++s)
      if (a->g.resid[s] ||
          ranges_overlap(a->g.y[s], size_t(n * seg_rows(a->g, s)) * sizeof(float), x, size_t(n * in) * sizeof(float)))
        return nullptr;
    return a;
  }

  bool merge_with(Launch& l, uint64_t tag, const float* x, float* y, int64_t n) const {
    const auto& st = l.merge_state;
    if (st.size() != 5 || st[0] != tag || st[1] != kw(x) || st[2] != uint64_t(n) || st[3] != uint64_t(in_)) return false;
    // merge_state holds &GgufGemvArgs::g, its first member.
    auto* a = reinterpret_cast<GgufGemvArgs*>(uintptr_t(st[4]));
    if (!can_join(a->g, x, in_, y, out_)) return false;
    const int i = add_segment(a->g, a0_, y, out_);
    a->a1[i] = a1_;
    a->a2[i] = a2_;
    l.key.insert(l.key.end(), {kw(a0_), kw(y), uint64_t(out_)});
    return true;
  }

  GgmlType type_;
  GgufRowStrides st_;
  uint8_t* mem_ = nullptr;
  uint8_t* a0_ = nullptr;
  uint8_t* a1_ = nullptr;
  uint8_t* a2_ = nullptr;
  uint64_t bytes_ = 0;
};

}  // namespace
}  // namespace cuda

std::unique_ptr<Linear> make_gguf_linear_cuda(const GgufBlocksView& v, int64_t in, int64_t out) {
  using quant::GgmlType;
  if (v.type == GgmlType::F32 || v.type == GgmlType::F16 || v.type == GgmlType::BF16) {
    const DType dt = v.type == GgmlType::F32 ? DType::F32 : v.type == GgmlType::F16 ? DType::F16 : DType::BF16;
    if (!v.row_map) return make_dense_linear_cuda(dt, v.blocks, in, out);
    // Rows permuted (Llama Q/K): apply the map on the host once.
    const size_t rb = size_t(in) * (dt == DType::F32 ? 4 : 2);
    std::vector<uint8_t> rows(rb * size_t(out));
    const auto* src = static_cast<const uint8_t*>(v.blocks);
    for (int64_t o = 0; o < out; ++o) std::copy_n(src + size_t(v.row_map[o]) * rb, rb, rows.data() + size_t(o) * rb);
    return make_dense_linear_cuda(dt, rows.data(), in, out);
  }
  return std::make_unique<cuda::GgufLinearCuda>(v, in, out);
}

}  // namespace qbench
