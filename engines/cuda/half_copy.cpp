#include "engines/cuda/half_copy.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <utility>

#include "engines/core/env_flag.h"
#include "engines/cuda/convert_cuda.h"
#include "engines/cuda/fold_control.h"
#include "engines/cuda/int4_kernels_cuda.h"

namespace qbench::cuda {

namespace {

const char kHalfProducerTag = 0;
// A start-up switch: on unless its variable is "0"; set() overrides it after running what is queued (launches
// queued under one setting run under it).
struct Switch {
  const char* env;
  int v = -1;  // -1: not read from the environment yet
  bool on() {
    if (v < 0) v = env_equals(env, "0") ? 0 : 1;
    return v == 1;
  }
  void set(bool b) {
    flush();
    v = b ? 1 : 0;
  }
};
Switch g_folds{"QBENCH_CUDA_FOLDS"}, g_merge{"QBENCH_CUDA_GEMM_MERGE"}, g_forms{"QBENCH_CUDA_FORM_FOLDS"},
    g_norms{"QBENCH_CUDA_NORM_FOLD"}, g_silus{"QBENCH_CUDA_SILU_FOLD"}, g_cluster{"QBENCH_CUDA_CLUSTER_MERGE"};

// The copy the last GEMM read. Nothing queued since (the queue's launch count is unchanged) and no flush
// since (the queue is not empty) mean x and the copy are as they were: a GEMM launch is never extended by
// a later call (no merge tag), so the count catches every change.
struct Shared {
  const float* x = nullptr;
  const void* xh = nullptr;
  int64_t cnt = 0;
  HalfType type = HalfType::None;
  uint64_t launches = 0;
};
Shared& shared() {
  static thread_local Shared s;
  return s;
}

// The producer the last fold wrote the copy into, and the readers of that copy since (release_f32).
struct Folded {
  const float* x = nullptr;
  int64_t cnt = 0;
  HalfOut* out = nullptr;
  size_t index = 0;        // the producer's place in the queue
  uint64_t launches = 0;   // launch count after the last reader noted the copy
  uint64_t flushes = 0;    // flush count at the fold (the queue must not have run since)
  int readers = 0;
  bool valid = false;
};
Folded& folded() {
  static thread_local Folded f;
  return f;
}
unsigned long long g_skipped = 0;

// The last launch writes x[0..cnt) and offered to write x in form.type: it now does, where `form` says
// (the HalfOut its kernel reads; form.only stays false until release_f32).
bool fold_into_producer(const float* x, int64_t cnt, const HalfOut& form) {
  Launch* last = last_launch();
  if (!last || last->merge_tag != &kHalfProducerTag || last->merge_state.size() != 4) return false;
  if (last->merge_state[0] != kw(x) || last->merge_state[1] != uint64_t(cnt)) return false;
  if (!(last->merge_state[3] & (1u << int(form.type)))) return false;
  auto* out = reinterpret_cast<HalfOut*>(uintptr_t(last->merge_state[2]));
  *out = form;
  last->key.insert(last->key.end(), {0x4A1F, kw(form.p), uint64_t(form.type), uint64_t(form.row),
                                     uint64_t(form.halves), kw(form.p2)});
  last->merge_tag = nullptr;  // complete
  folded() = {x, cnt, out, queued_count() - 1, graph_stats().launches, flush_count(), 0, true};
  return true;
}

}  // namespace

bool launch_folds_enabled() { return g_folds.on(); }
void set_launch_folds_enabled(bool on) { g_folds.set(on); }
bool form_folds_enabled() { return g_forms.on(); }
void set_form_folds_enabled(bool on) { g_forms.set(on); }
bool norm_folds_enabled() { return g_norms.on() && form_folds_enabled(); }
void set_norm_folds_enabled(bool on) { g_norms.set(on); }
bool silu_folds_enabled() { return g_silus.on() && form_folds_enabled(); }
void set_silu_folds_enabled(bool on) { g_silus.set(on); }
bool cluster_merge_enabled() { return g_cluster.on(); }
void set_cluster_merge_enabled(bool on) { g_cluster.set(on); }
bool gemm_merge_enabled() { return g_merge.on(); }
void set_gemm_merge_enabled(bool on) { g_merge.set(on); }

void offer_half_copy(Launch& l, const float* x, int64_t cnt, HalfOut* out, unsigned caps) {
  if (!launch_folds_enabled()) return;
  l.merge_tag = &kHalfProducerTag;
  l.merge_state = {kw(x), uint64_t(cnt), kw(out), uint64_t(caps)};
}

void ensure_half_copy(uint64_t tag, const float* x, void* xh, int64_t cnt, HalfType t) {
  const Shared& s = shared();
  if (last_launch() && graph_stats().launches == s.launches && s.x == x && s.xh == xh && s.cnt == cnt && s.type == t)
    return;
  if (fold_into_producer(x, cnt, HalfOut{xh, t})) return;
  Launch l;
  l.key = key(tag, x, xh, cnt, int(t));
  if (t == HalfType::F16)
    l.run = [=](cudaStream_t st) { launch_to_16bit(x, static_cast<__half*>(xh), cnt, st); };
  else
    l.run = [=](cudaStream_t st) { launch_to_16bit(x, static_cast<__nv_bfloat16*>(xh), cnt, st); };
  enqueue(std::move(l));
}

bool fold_int4_fragments(const float* x, void* xf, int64_t n, int64_t row) {
  if (!form_folds_enabled() || n < 1 || n > 8 || row % kInt4Unit != 0) return false;
  return fold_into_producer(x, n * row, HalfOut{xf, HalfType::Int4Frag, false, row, int4_xfrag_halves(n)});
}

bool fold_gguf_runs(const float* x, void* xq, void* xs, int64_t cnt) {
  if (!form_folds_enabled() || cnt % 16 != 0) return false;
  return fold_into_producer(x, cnt, HalfOut{xq, HalfType::GgufQ8, false, 0, 0, xs});
}

void note_half_copy(const float* x, const void* xh, int64_t cnt, HalfType t) {
  const uint64_t n = graph_stats().launches;
  shared() = {x, xh, cnt, t, n};
  Folded& f = folded();
  if (!f.valid || f.x != x) return;
  // The reader queued one launch (its GEMM) or none (it joined the previous reader's): else something
  // else was queued in between, which may read x itself.
  if (n - f.launches > 1 || flush_count() != f.flushes || f.cnt != cnt) {
    f.valid = false;
    return;
  }
  f.launches = n;
  ++f.readers;
}

void release_f32(const float* x, int64_t cnt) {
  static const bool on = !env_equals("QBENCH_CUDA_SKIP_F32", "0");  // A/B measurements
  Folded& f = folded();
  const bool ok = on && f.valid && f.x == x && f.cnt == cnt && f.readers > 0 && graph_stats().launches == f.launches &&
                  flush_count() == f.flushes;
  f.valid = false;
  if (!ok) return;
  Launch* producer = queued_launch(f.index);
  if (!producer) return;
  f.out->only = true;
  producer->key.push_back(0x0F32);  // another kernel behaviour: another graph
  ++g_skipped;
  // One-shot: taken out of the launch before it runs (it may cancel that launch).
  if (auto hook = std::move(producer->on_release)) {
    producer->on_release = nullptr;
    hook(f.index);
  }
}

unsigned long long f32_writes_skipped() { return g_skipped; }

}  // namespace qbench::cuda
