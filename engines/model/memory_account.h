#pragma once
// What the engine holds, by purpose. Results report these next to the
// process's own view (peak RSS / VRAM) so the two can be compared.
#include <atomic>
#include <cstdint>

#include <nlohmann/json_fwd.hpp>

namespace qbench {

enum class MemCategory { Weights, KvCache, Activations, Workspace };

struct MemoryBreakdown {
  uint64_t weights = 0, kv_cache = 0, activations = 0, workspace = 0;
  uint64_t total() const { return weights + kv_cache + activations + workspace; }
  nlohmann::json to_json() const;
};

class MemoryAccount {
 public:
  void add(MemCategory c, int64_t bytes) { slot(c) += bytes; bump_peak(c); }
  void sub(MemCategory c, int64_t bytes) { slot(c) -= bytes; }
  MemoryBreakdown current() const;
  MemoryBreakdown peak() const;

 private:
  std::atomic<int64_t>& slot(MemCategory c) { return cur_[int(c)]; }
  void bump_peak(MemCategory c);
  std::atomic<int64_t> cur_[4]{}, peak_[4]{};
};

}  // namespace qbench
