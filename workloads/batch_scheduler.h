#pragma once
// Continuous batching over the engine's batched forward: every step runs one
// token for each decoding request plus prefill chunks of newly admitted ones,
// within --max-num-seqs and --max-batched-tokens, first come first served.
// A request is admitted only when the paged KV pool can hold its whole
// prompt + output, so a running request is never preempted; when the pool is
// full, requests wait (back-pressure).
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "engines/model/sampler.h"
#include "engines/model/transformer.h"

namespace qbench {

struct SchedulerLimits {
  int64_t max_num_seqs = 64;
  int64_t max_batched_tokens = 2048;
  // Longest prefill piece of one request per step: long prompts are chunked so
  // running decodes are not stalled behind them (keeps the ITL tail short).
  int64_t prefill_chunk = 512;
};

class BatchScheduler {
 public:
  BatchScheduler(Transformer& model, std::shared_ptr<KvBlockPool> pool, SchedulerLimits limits, SamplerParams sampling);

  void submit(int64_t id, std::vector<int32_t> prompt, int64_t gen_tokens);

  struct Event {
    int64_t id;
    int32_t token;
    bool first;     // the request's first generated token
    bool finished;  // its last
  };
  // Admits what fits, runs one batched forward, samples. Empty when idle.
  std::vector<Event> step();

  bool idle() const { return waiting_.empty() && running_.empty(); }
  int64_t running() const { return int64_t(running_.size()); }
  int64_t waiting() const { return int64_t(waiting_.size()); }
  int64_t last_batch_tokens() const { return last_tokens_; }
  // Decode rows (one token each) of the last step, and the sum of their attended lengths (n_past + 1).
  int64_t last_decode_rows() const { return last_decode_rows_; }
  int64_t last_decode_context() const { return last_decode_context_; }

 private:
  struct Request {
    int64_t id;
    std::vector<int32_t> prompt;
    int64_t gen_tokens;
    int64_t prefilled = 0;  // prompt tokens already in the KV cache
    int64_t generated = 0;
    int32_t last_token = -1;
    Sequence seq;
    std::unique_ptr<Sampler> sampler;
  };
  void admit();

  Transformer& model_;
  std::shared_ptr<KvBlockPool> pool_;
  SchedulerLimits lim_;
  SamplerParams sampling_;
  std::deque<std::unique_ptr<Request>> waiting_;
  std::vector<std::unique_ptr<Request>> running_;
  std::vector<float> logits_;
  std::vector<int32_t> greedy_;
  int64_t last_tokens_ = 0, last_decode_rows_ = 0, last_decode_context_ = 0;
};

}  // namespace qbench
