#pragma once
// Deferred launches and CUDA graphs for the decode step (issue 7).
//
// Every kernel the CUDA Ops and Linears issue is queued here instead of
// launched, together with a key: every value the launch bakes into its kernel
// (pointers, sizes). The queue runs at the next download / synchronize / free
// (flush). A queue whose key sequence was seen before is captured once into a
// CUDA graph and replayed from then on: one launch per decode step instead of
// ~500. Values that change from step to step (positions, token ids, the block
// table) never go into a kernel argument: they are staged into a pinned host
// arena whose one copy to the device heads the queue (and the graph), and
// kernels read them there. So equal keys mean equal work, and a graph replays
// exactly what the direct launches would have done.
//
// Include from CUDA-aware sources only. One host thread drives the stream.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <type_traits>
#include <vector>

namespace qbench::cuda {

struct Launch {
  std::vector<uint64_t> key;                // everything `run` bakes into its launch
  bool capturable = true;                   // false: cuBLAS (run directly, never in a graph)
  std::function<void(cudaStream_t)> run;    // issues the work on the stream; throws on a launch error
  const void* merge_tag = nullptr;          // lets the next call extend this launch (GEMV fusion)
  std::vector<uint64_t> merge_state;        // whatever the extender needs to check
  // Producers of a folded activation form (half_copy.h): called once, with the launch's queue index, when it
  // writes that form only (release_f32), so it may hand its work to the launches around it.
  std::function<void(size_t)> on_release;
};

// Queues a launch. Key words are taken as given; add a distinct first word per call site.
void enqueue(Launch l);
// The last queued launch, nullptr when the queue is empty: adjacent launches
// may be merged into it (nothing ran in between, so their inputs are unchanged).
Launch* last_launch();

// The i-th launch of the queue not yet run (0: the oldest), nullptr past its end. Valid until the next flush;
// flush_count() tells whether one happened.
Launch* queued_launch(size_t i);
// Queued launch i has nothing left to do (a fold moved its work into the launches around it): it stays in
// the queue (indices and counts stay valid) but runs nothing; counted in GraphStats::cancelled.
void cancel_launch(size_t i);
size_t queued_count();
uint64_t flush_count();

// Copies `bytes` of host data into the staging arena and returns where a queued
// kernel finds it on the device, valid for launches queued before the next flush.
// With `share`, an equal blob staged with `share` earlier in the queue is reused
// (the per-layer [pos0, block table] of one sequence); never for values that may
// coincide by chance, since slot offsets are part of a graph's key.
const void* stage(const void* host, size_t bytes, bool share = false);

// Runs everything queued (by graph replay where possible). Called by sync(),
// download, device_free and the scratch allocator.
void flush();

// Device bytes of the staging arena (engine workspace).
uint64_t staging_bytes();

struct GraphStats {
  uint64_t graph_launches = 0;  // queues replayed through a graph
  uint64_t captures = 0;        // graphs built
  uint64_t direct_runs = 0;     // queues launched kernel by kernel
  uint64_t launches = 0;        // kernels/copies queued in all
  uint64_t cancelled = 0;       // of those, queued but cancelled (cancel_launch)
  uint64_t build_ns = 0;        // host time from each queue's first launch to its flush (the GPU may idle)
  uint64_t launched() const { return launches - cancelled; }  // queued and not cancelled
};
GraphStats graph_stats();
// Graphs are on unless QBENCH_CUDA_GRAPHS=0 at start-up; tests toggle them here.
void set_graphs_enabled(bool on);
bool graphs_enabled();

// Key helpers: pointers, integers and enums as key words.
template <class T>
uint64_t kw(T v) {
  if constexpr (std::is_pointer_v<T>) return uint64_t(reinterpret_cast<uintptr_t>(v));
  else return uint64_t(v);
}
template <class... A>
std::vector<uint64_t> key(A... a) {
  return {kw(a)...};
}

}  // namespace qbench::cuda
