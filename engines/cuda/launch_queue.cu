#include "engines/cuda/launch_queue.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "engines/core/env_flag.h"
#include "engines/core/error.h"
#include "engines/cuda/cuda_check.h"
#include "engines/cuda/cuda_context.h"
#include "engines/cuda/pdl_control.h"

namespace qbench::cuda {

namespace {

constexpr size_t kArenaBytes = size_t(1) << 20;  // per queue: positions, token ids, block tables
constexpr size_t kSlotAlign = 16;
constexpr size_t kMinGraphLaunches = 4;  // shorter queues gain nothing from a graph
constexpr size_t kMaxGraphs = 64;        // distinct queue shapes kept; all dropped beyond

struct GraphEntry {
  int seen = 0;
  cudaGraphExec_t exec = nullptr;
};

struct Queue {
  std::vector<Launch> launches;
  // Staging arena: pinned host bytes copied to `dev` in one copy at the head of the queue. Two host halves,
  // alternating per queue, so that the host can stage the next step while the device still runs (and copies
  // from) the last one (pipelined greedy decode, engines/model/decode_greedy.cpp); the device arena is one,
  // since the next queue's copy into it runs after the last queue's kernels in stream order.
  uint8_t* host[2] = {nullptr, nullptr};
  uint8_t* dev = nullptr;
  int cur = 0;  // the half this queue stages into
  size_t used = 0;
  std::vector<std::pair<size_t, size_t>> slots;  // (offset, bytes) staged with `share` in this queue
  cudaEvent_t arena_read[2] = {nullptr, nullptr};  // the last queue that used a half is done with it
  bool arena_pending[2] = {false, false};
  std::map<std::vector<uint64_t>, GraphEntry> graphs;
  GraphStats stats;
  bool graphs_on = true;
  bool flushing = false;
  std::chrono::steady_clock::time_point first;  // first launch of the queue
};

Queue& q() {
  static Queue* s = [] {
    auto* qq = new Queue;  // never destroyed: graphs and pinned memory live until exit
    qq->graphs_on = !env_equals("QBENCH_CUDA_GRAPHS", "0");
    return qq;
  }();
  return *s;
}

void ensure_arena(Queue& Q) {
  if (Q.dev) return;
  for (int h = 0; h < 2; ++h) {
    QB_CUDA(cudaHostAlloc(reinterpret_cast<void**>(&Q.host[h]), kArenaBytes, cudaHostAllocDefault));
    QB_CUDA(cudaEventCreateWithFlags(&Q.arena_read[h], cudaEventDisableTiming));
  }
  Q.dev = static_cast<uint8_t*>(device_alloc(kArenaBytes, "launch staging arena"));
}

void drop_graphs(Queue& Q) {
  for (auto& [sig, e] : Q.graphs)
    if (e.exec) (void)cudaGraphExecDestroy(e.exec);
  Q.graphs.clear();
}

// Issues the queue's work on `s`: the staged bytes first, then every launch in order.
void issue(Queue& Q, cudaStream_t s) {
  if (Q.used) QB_CUDA(cudaMemcpyAsync(Q.dev, Q.host[Q.cur], Q.used, cudaMemcpyHostToDevice, s));
  for (auto& l : Q.launches) l.run(s);
}

cudaGraphExec_t capture(Queue& Q, cudaStream_t s) {
  QB_CUDA(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  try {
    issue(Q, s);
  } catch (...) {
    cudaGraph_t g = nullptr;
    (void)cudaStreamEndCapture(s, &g);
    if (g) (void)cudaGraphDestroy(g);
    throw;
  }
  cudaGraph_t g = nullptr;
  QB_CUDA(cudaStreamEndCapture(s, &g));
  cudaGraphExec_t exec = nullptr;
  const cudaError_t e = cudaGraphInstantiate(&exec, g, 0);
  (void)cudaGraphDestroy(g);
  if (e != cudaSuccess) throw_cuda(e, "cudaGraphInstantiate (decode step)");
  return exec;
}

}  // namespace

void enqueue(Launch l) {
  Queue& Q = q();
  if (Q.flushing) throw Error("internal: CUDA launch queued while the queue runs");
  ++Q.stats.launches;
  if (Q.launches.empty()) Q.first = std::chrono::steady_clock::now();
  Q.launches.push_back(std::move(l));
}

void cancel_launch(size_t i) {
  Queue& Q = q();
  if (i >= Q.launches.size()) return;
  Launch& l = Q.launches[i];
  l.run = [](cudaStream_t) {};
  l.key.push_back(0xCA9CE1);
  l.merge_tag = nullptr;
  ++Q.stats.cancelled;
}

Launch* queued_launch(size_t i) {
  Queue& Q = q();
  return i < Q.launches.size() ? &Q.launches[i] : nullptr;
}
size_t queued_count() { return q().launches.size(); }
uint64_t flush_count() { return q().stats.graph_launches + q().stats.direct_runs; }

Launch* last_launch() {
  Queue& Q = q();
  return Q.launches.empty() ? nullptr : &Q.launches.back();
}

const void* stage(const void* host, size_t bytes, bool share) {
  Queue& Q = q();
  ensure_arena(Q);
  if (share)
    for (auto [off, n] : Q.slots)
      if (n == bytes && std::memcmp(Q.host[Q.cur] + off, host, bytes) == 0) return Q.dev + off;
  const size_t need = (bytes + kSlotAlign - 1) / kSlotAlign * kSlotAlign;
  if (need > kArenaBytes) throw Error("CUDA staging: " + std::to_string(bytes) + " bytes exceed the 1 MiB arena");
  if (Q.used + need > kArenaBytes) flush();
  if (Q.arena_pending[Q.cur]) {  // the queue before last may still copy from the bytes we are about to overwrite
    QB_CUDA(cudaEventSynchronize(Q.arena_read[Q.cur]));
    Q.arena_pending[Q.cur] = false;
  }
  const size_t off = Q.used;
  std::memcpy(Q.host[Q.cur] + off, host, bytes);
  Q.used += need;
  if (share) Q.slots.emplace_back(off, bytes);
  return Q.dev + off;
}

void flush() {
  Queue& Q = q();
  if (Q.flushing || (Q.launches.empty() && Q.used == 0)) return;
  Q.flushing = true;
  if (!Q.launches.empty())
    Q.stats.build_ns += uint64_t(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - Q.first).count());
  struct Reset {  // the queue is emptied whatever happens: a failed launch must not run twice
    Queue& Q;
    ~Reset() {
      Q.launches.clear();
      Q.slots.clear();
      Q.used = 0;
      Q.flushing = false;
    }
  } reset{Q};
  cudaStream_t s = stream();

  bool graphable = Q.graphs_on && Q.launches.size() >= kMinGraphLaunches;
  for (auto& l : Q.launches) graphable = graphable && l.capturable;
  GraphEntry* entry = nullptr;
  if (graphable) {
    std::vector<uint64_t> sig;
    sig.push_back(Q.used);
    sig.push_back(uint64_t(Q.cur));  // the graph's staging copy reads this host half
    // Launches through launch_pdl capture with or without programmatic edges: a graph is replayed only
    // under the setting it was captured with (set_pdl_enabled may change between steps).
    sig.push_back(pdl_enabled() ? 1 : 0);
    for (auto& l : Q.launches) {
      sig.push_back(l.key.size());
      sig.insert(sig.end(), l.key.begin(), l.key.end());
    }
    if (Q.graphs.size() >= kMaxGraphs && !Q.graphs.count(sig)) drop_graphs(Q);
    entry = &Q.graphs[sig];
    if (!entry->exec && ++entry->seen >= 2) {  // a shape seen twice is a loop: capture it
      entry->exec = capture(Q, s);
      ++Q.stats.captures;
    }
  }
  if (entry && entry->exec) {
    QB_CUDA(cudaGraphLaunch(entry->exec, s));
    ++Q.stats.graph_launches;
  } else {
    issue(Q, s);
    ++Q.stats.direct_runs;
  }
  if (Q.used) {
    QB_CUDA(cudaEventRecord(Q.arena_read[Q.cur], s));
    Q.arena_pending[Q.cur] = true;
    Q.cur ^= 1;
  }
}

GraphStats graph_stats() { return q().stats; }

uint64_t staging_bytes() { return q().dev ? kArenaBytes : 0; }

void set_graphs_enabled(bool on) {
  flush();
  Queue& Q = q();
  Q.graphs_on = on;
  if (!on) drop_graphs(Q);
}

bool graphs_enabled() { return q().graphs_on; }

}  // namespace qbench::cuda
