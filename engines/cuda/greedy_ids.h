#pragma once
// The host's copies of the sampled ids of pipelined greedy decode (Ops::argmax_rows_device, wait_ids;
// engines/model/decode_greedy.cpp): two pinned slots used in turn, each filled by a copy queued after its
// step's argmax (inside the step's graph) and marked by an event recorded once the step is submitted. Two,
// because the host holds at most the step it waits for and the one queued behind it.
// Include from CUDA-aware sources only. One host thread drives the stream.
#include <cuda_runtime.h>

#include <cstdint>

namespace qbench::cuda {

class GreedyIds {
 public:
  static constexpr int64_t kMaxRows = 1024;  // sequences of one step

  GreedyIds() = default;
  ~GreedyIds();
  GreedyIds(const GreedyIds&) = delete;
  GreedyIds& operator=(const GreedyIds&) = delete;

  // Queues the copy of device ids [0, rows) into the next slot; returns its ticket. Throws when that slot still
  // holds a ticket nobody waited for (more than two steps in flight).
  uint64_t queue_copy(const int32_t* device_ids, int64_t rows);
  // The queue was just flushed (launch_queue.h): every queued copy is now on the stream; mark each one.
  void mark_submitted(cudaStream_t s);
  // Blocks until ticket's copy has arrived, then hands its ids over and frees the slot.
  void wait(uint64_t ticket, int32_t* host_out, int64_t rows);

 private:
  struct Slot {
    int32_t* host = nullptr;  // pinned, kMaxRows ids
    cudaEvent_t done = nullptr;
    uint64_t ticket = 0;  // 0: free
    int64_t rows = 0;
    bool marked = false;
  };
  Slot slots_[2];
  uint64_t last_ = 0;
};

}  // namespace qbench::cuda
