#include "workloads/batch_scheduler.h"

#include <algorithm>

#include "engines/core/error.h"

namespace qbench {

BatchScheduler::BatchScheduler(Transformer& model, std::shared_ptr<KvBlockPool> pool, SchedulerLimits limits,
                               SamplerParams sampling)
    : model_(model), pool_(std::move(pool)), lim_(limits), sampling_(sampling) {
  if (lim_.max_num_seqs <= 0 || lim_.max_batched_tokens <= 0 || lim_.prefill_chunk <= 0)
    throw Error("scheduler limits must be positive");
}

void BatchScheduler::submit(int64_t id, std::vector<int32_t> prompt, int64_t gen_tokens) {
  if (prompt.empty() || gen_tokens <= 0) throw Error("a request needs a prompt and at least one output token");
  const int64_t need = int64_t(prompt.size()) + gen_tokens;
  if (need > pool_->total_blocks() * pool_->block_tokens())
    throw Error("request " + std::to_string(id) + " needs " + std::to_string(need) +
                " KV slots, more than the whole pool holds");
  auto r = std::make_unique<Request>();
  r->id = id;
  r->prompt = std::move(prompt);
  r->gen_tokens = gen_tokens;
  SamplerParams sp = sampling_;
  sp.seed += uint64_t(id);
  r->sampler = std::make_unique<Sampler>(sp);
  waiting_.push_back(std::move(r));
}

void BatchScheduler::admit() {
  while (!waiting_.empty() && int64_t(running_.size()) < lim_.max_num_seqs) {
    Request& r = *waiting_.front();
    r.seq = model_.new_sequence_in(pool_);
    // Whole lifetime reserved up front: no preemption needed later. FCFS: the head waits, nobody overtakes it.
    if (!r.seq.kv->reserve(int64_t(r.prompt.size()) + r.gen_tokens)) break;
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
}

std::vector<BatchScheduler::Event> BatchScheduler::step() {
  admit();
  std::vector<Event> events;
  if (running_.empty()) return events;
  // Budget: decodes first (one token each), then prefill chunks in arrival order.
  std::vector<Transformer::BatchItem> items;
  std::vector<Request*> owners;
  int64_t budget = lim_.max_batched_tokens;
  last_decode_rows_ = last_decode_context_ = 0;
  for (auto& r : running_)
    if (r->prefilled == int64_t(r->prompt.size()) && budget > 0) {
      items.push_back({&r->seq, &r->last_token, 1, true});
      owners.push_back(r.get());
      --budget;
      ++last_decode_rows_;
      last_decode_context_ += r->seq.n_past + 1;
    }
  std::vector<int64_t> chunk(running_.size(), 0);
  for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
    Request& r = *running_[i];
    const int64_t left = int64_t(r.prompt.size()) - r.prefilled;
    if (left == 0) continue;
    const int64_t c = std::min({left, budget, lim_.prefill_chunk});
    items.push_back({&r.seq, r.prompt.data() + r.prefilled, c, c == left});
    owners.push_back(&r);
    chunk[i] = c;
    budget -= c;
  }
  last_tokens_ = lim_.max_batched_tokens - budget;
  // Greedy: the argmax is taken where the logits are (a GPU returns token ids, not batch x vocab floats).
  const bool greedy = sampling_.greedy();
  if (greedy) model_.forward_batch_greedy(items, greedy_);
  else model_.forward_batch(items, logits_);

  const int64_t V = model_.config().vocab_size;
  int64_t row = 0;
  for (size_t k = 0; k < items.size(); ++k) {
    Request& r = *owners[k];
    const bool decoding = r.prefilled == int64_t(r.prompt.size());
    if (!decoding) r.prefilled += items[k].n;
    if (!items[k].want_logits) continue;
    r.last_token = greedy ? greedy_[size_t(row)] : r.sampler->sample(logits_.data() + row * V, V);
    ++row;
    ++r.generated;
    events.push_back({r.id, r.last_token, r.generated == 1, r.generated == r.gen_tokens});
  }
  // Finished requests leave and give their KV blocks back.
  running_.erase(std::remove_if(running_.begin(), running_.end(),
                                [](const std::unique_ptr<Request>& r) { return r->generated == r->gen_tokens; }),
                 running_.end());
  return events;
}

}  // namespace qbench
