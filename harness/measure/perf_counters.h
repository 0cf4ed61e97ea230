#pragma once
// Hardware and software event counts around a measured phase, through libpfm4
// (event names -> perf_event_attr) and perf_event_open. On VMs without a
// virtual PMU, or under a strict perf_event_paranoid, the hardware events are
// unavailable and reported so, with the reason; nothing here throws for that.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/measure/clock.h"

namespace qbench {

class PerfCounters {
 public:
  // Opens every event of event_names() for all threads of this process: the
  // threads alive now, and (inherit=1) any thread they create later.
  PerfCounters();
  ~PerfCounters();
  PerfCounters(const PerfCounters&) = delete;
  PerfCounters& operator=(const PerfCounters&) = delete;

  void start();  // enable counting; baselines are read so repeated phases never accumulate
  void stop();   // disable + read, scaled by time_enabled / time_running when multiplexed

  // {"available": {"cycles": 123, ...}, "unavailable": {"cycles": "reason", ...},
  //  "derived": {"ipc": ...}, "user_only": [...], "multiplexed": {"name": fraction counted}, "elapsed_s": ...}
  nlohmann::json to_json() const;
  // The last measured count of an available event; nullopt if unavailable or never measured.
  std::optional<double> value(const std::string& name) const;

  // Every event requested, in report order: hardware (cycles, instructions,
  // cache-references, cache-misses, llc-loads, llc-load-misses, dram-demand-fills,
  // dram-prefetch-fills) then software (task-clock, page-faults, context-switches).
  static const std::vector<std::string>& event_names();

 private:
  struct Reading {
    uint64_t value = 0, enabled = 0, running = 0;
  };
  struct Event {
    std::string name;
    std::vector<int> fds;  // one per thread alive at construction
    std::vector<Reading> baseline;  // per fd, read at start()
    bool user_only = false;
    std::optional<double> measured;
    double running_fraction = 1.0;
  };
  static Reading read(int fd);

  std::vector<Event> events_;
  std::map<std::string, std::string> unavailable_;
  Clock::time_point started_{};
  double elapsed_s_ = 0.0;
};

}  // namespace qbench
