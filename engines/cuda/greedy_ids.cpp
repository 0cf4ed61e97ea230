#include "engines/cuda/greedy_ids.h"

#include <string>

#include "engines/core/error.h"
#include "engines/cuda/cuda_check.h"
#include "engines/cuda/launch_queue.h"

namespace qbench::cuda {

GreedyIds::~GreedyIds() {
  for (Slot& s : slots_) {
    if (s.done) {
      (void)cudaEventSynchronize(s.done);
      (void)cudaEventDestroy(s.done);
    }
    if (s.host) (void)cudaFreeHost(s.host);
  }
}

uint64_t GreedyIds::queue_copy(const int32_t* device_ids, int64_t rows) {
  if (rows <= 0 || rows > kMaxRows)
    throw Error("pipelined greedy decode: " + std::to_string(rows) + " rows per step (1.." +
                std::to_string(kMaxRows) + ")");
  const uint64_t t = ++last_;
  Slot& s = slots_[t % 2];
  if (s.ticket) throw Error("internal: pipelined greedy decode with more than two steps in flight");
  if (!s.host) {
    QB_CUDA(cudaHostAlloc(reinterpret_cast<void**>(&s.host), kMaxRows * sizeof(int32_t), cudaHostAllocDefault));
    QB_CUDA(cudaEventCreateWithFlags(&s.done, cudaEventDisableTiming));
  }
  s.ticket = t;
  s.rows = rows;
  s.marked = false;
  int32_t* dst = s.host;
  const size_t bytes = size_t(rows) * sizeof(int32_t);
  // Captured into the step's graph like the kernels (a copy into pinned memory); the slot is part of the key.
  enqueue({key(0x1D5C0B1, kw(device_ids), kw(dst), bytes), true, [=](cudaStream_t st) {
             QB_CUDA(cudaMemcpyAsync(dst, device_ids, bytes, cudaMemcpyDeviceToHost, st));
           }});
  return t;
}

void GreedyIds::mark_submitted(cudaStream_t st) {
  for (Slot& s : slots_)
    if (s.ticket && !s.marked) {
      QB_CUDA(cudaEventRecord(s.done, st));
      s.marked = true;
    }
}

void GreedyIds::wait(uint64_t ticket, int32_t* host_out, int64_t rows) {
  Slot& s = slots_[ticket % 2];
  if (!ticket || s.ticket != ticket) throw Error("internal: the ids of pipelined step " + std::to_string(ticket) + " are gone");
  if (rows != s.rows) throw Error("internal: pipelined step ids asked for " + std::to_string(rows) + " rows, it has " +
                                  std::to_string(s.rows));
  if (!s.marked) {
    flush();
    mark_submitted(stream());
  }
  s.ticket = 0;  // freed whatever happens next: a failed wait must not keep the slot
  QB_CUDA(cudaEventSynchronize(s.done));
  for (int64_t i = 0; i < rows; ++i) host_out[i] = s.host[i];
}

}  // namespace qbench::cuda
