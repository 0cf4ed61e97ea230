#include "engines/model/memory_account.h"

#include <nlohmann/json.hpp>

namespace qbench {

nlohmann::json MemoryBreakdown::to_json() const {
  return {{"weights", weights}, {"kv_cache", kv_cache}, {"activations", activations},
          {"workspace", workspace}, {"total", total()}};
}

void MemoryAccount::bump_peak(MemCategory c) {
  const int64_t v = cur_[int(c)].load();
  int64_t p = peak_[int(c)].load();
  while (v > p && !peak_[int(c)].compare_exchange_weak(p, v)) {}
}

static MemoryBreakdown read(const std::atomic<int64_t>* a) {
  return {uint64_t(a[0].load()), uint64_t(a[1].load()), uint64_t(a[2].load()), uint64_t(a[3].load())};
}
MemoryBreakdown MemoryAccount::current() const { return read(cur_); }
MemoryBreakdown MemoryAccount::peak() const { return read(peak_); }

}  // namespace qbench
