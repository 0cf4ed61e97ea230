// Greedy decode of one sequence with the host one step ahead of the device (Transformer::decode_greedy).
//
// A synchronous decode step is: the host builds the step (the transformer's ~600 Ops/Linear calls; on CUDA
// a launch queue replayed as one graph), the device runs it, the host waits for the token and feeds it back.
// The device idles while the host builds, and the host while the device runs: on the H100's 7B GPTQ step,
// 0.10-0.19 ms of a 2.6-2.7 ms token (latency workload, same-run A/B). With the token kept on the device (the
// argmax writes it, the next step's embedding lookup reads it there), step i + 1 can be queued before step i's
// token is known, so the device runs step after step and the host's work hides behind it. This is what serving engines call
// overlap scheduling; the tokens are the same as the synchronous loop's.
#include <functional>
#include <vector>

#include "engines/core/env_flag.h"
#include "engines/core/error.h"
#include "engines/model/linear.h"
#include "engines/model/ops.h"
#include "engines/model/transformer.h"

namespace qbench {

uint64_t Ops::argmax_rows_device(const float*, int64_t, int64_t, int32_t*) {
  throw Error("this device has no pipelined greedy decode (Ops::argmax_rows_device)");
}

void Ops::wait_ids(uint64_t, int32_t*, int64_t) {
  throw Error("this device has no pipelined greedy decode (Ops::wait_ids)");
}

void Linear::gather_rows_device(const int32_t*, int64_t, float*) const {
  throw Error("this " + kind() + " Linear cannot look up rows by device-resident ids");
}

uint64_t Transformer::queue_greedy_step(const std::vector<BatchItem>& step, bool device_token) {
  run_to_head(step, device_token ? device_token_.data() : nullptr);
  w_.output().forward(xn_.data(), logits_.data(), 1);
  const uint64_t ticket = ops_->argmax_rows_device(logits_.data(), 1, cfg_.vocab_size, device_token_.data());
  ops_->submit();
  return ticket;
}

bool Transformer::decode_pipelined() const {
  // QBENCH_PIPELINED_DECODE=0 keeps the synchronous loop (A/B runs).
  static const bool on = !env_equals("QBENCH_PIPELINED_DECODE", "0");
  return on && ops_->pipelined_greedy();
}

void Transformer::decode_greedy(Sequence& seq, int32_t token, int64_t n, const std::function<bool(int32_t)>& on_token) {
  if (n <= 0) return;
  // One item, built once: the token after each step is written back into `token`.
  const std::vector<BatchItem> step = {{&seq, &token, 1, true}};
  if (!decode_pipelined()) {
    std::vector<int32_t> next;
    for (int64_t i = 0; i < n; ++i) {
      forward_batch_greedy(step, next);
      token = next[0];
      if (!on_token(token)) return;
    }
    return;
  }
  if (device_token_.empty()) device_token_ = DeviceArray<int32_t>(ops_.get(), 1, &mem_, MemCategory::Activations);
  // Queued steps whose token nobody has read yet, oldest first (at most two). Leaving early (a stop, or an
  // exception) waits for them and gives their positions back: the sequence then holds the tokens fed before the
  // last one handed to on_token, as after the synchronous loop, and no copy of an id is left pending.
  // The first step feeds the host's token (checked like any); the later ones the argmax on the device.
  std::vector<uint64_t> unread = {queue_greedy_step(step, false)};
  auto give_back = [&] {
    while (!unread.empty()) {
      const uint64_t t = unread.back();
      unread.pop_back();
      seq.n_past -= 1;
      int32_t id = 0;
      ops_->wait_ids(t, &id, 1);
    }
  };
  try {
    for (int64_t i = 0; i < n; ++i) {
      if (i + 1 < n) unread.push_back(queue_greedy_step(step, true));
      int32_t t = 0;
      ops_->wait_ids(unread.front(), &t, 1);
      unread.erase(unread.begin());
      if (!on_token(t)) {
        give_back();
        return;
      }
    }
  } catch (...) {
    try {
      give_back();
    } catch (...) {  // the first error is the one to report
    }
    throw;
  }
}

}  // namespace qbench
