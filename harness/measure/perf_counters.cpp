#include "harness/measure/perf_counters.h"

#include <linux/perf_event.h>
#include <perfmon/pfmlib_perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace qbench {

namespace {

struct EventSpec {
  const char* name;
  // libpfm4 event strings tried in order; the first the PMU knows is used.
  std::vector<const char*> encodings;
};

// Generic perf events where the kernel maps them to any PMU; native names
// where only a PMU-specific event measures DRAM traffic (AMD Zen 4, then Zen 3 umask names).
const std::vector<EventSpec>& event_specs() {
  static const std::vector<EventSpec> specs = {
      {"cycles", {"perf::CYCLES"}},
      {"instructions", {"perf::INSTRUCTIONS"}},
      {"cache-references", {"perf::CACHE-REFERENCES"}},
      {"cache-misses", {"perf::CACHE-MISSES"}},
      {"llc-loads", {"perf::LLC-LOADS"}},
      {"llc-load-misses", {"perf::LLC-LOAD-MISSES"}},
      {"dram-demand-fills",
       {"DEMAND_DATA_CACHE_FILLS_FROM_SYSTEM:DRAM_IO_NEAR:DRAM_IO_FAR",
        "DEMAND_DATA_CACHE_FILLS_FROM_SYSTEM:MEM_IO_LCL:MEM_IO_RMT"}},
      {"dram-prefetch-fills",
       {"HARDWARE_PREFETCH_DATA_CACHE_FILLS:DRAM_IO_NEAR:DRAM_IO_FAR",
        "HARDWARE_PREFETCH_DATA_CACHE_FILLS:MEM_IO_LCL:MEM_IO_RMT"}},
      {"task-clock", {"perf::TASK-CLOCK"}},
      {"page-faults", {"perf::PAGE-FAULTS"}},
      {"context-switches", {"perf::CONTEXT-SWITCHES"}},
  };
  return specs;
}

constexpr double kCacheLineBytes = 64.0;

// libpfm4 keeps global tables: initialise once per process.
int pfm_status() {
  static const int status = pfm_initialize();
  return status;
}

std::string perf_event_paranoid() {
  std::ifstream in("/proc/sys/kernel/perf_event_paranoid");
  std::string level;
  in >> level;
  return level;
}

std::string errno_text(int err) {
  const char* name = strerrorname_np(err);
  return name ? name : std::to_string(err);
}

// Why perf_event_open refused an event, in words a reader of results can act on.
std::string open_failure_reason(const perf_event_attr& attr, int err) {
  const std::string call = "perf_event_open: " + errno_text(err);
  const bool software = attr.type == PERF_TYPE_SOFTWARE;
  if (!software && (err == ENOENT || err == EOPNOTSUPP || err == ENODEV))
    return "no hardware PMU exposed (" + call + ")";
  if (err == EACCES || err == EPERM) return "perf_event_paranoid=" + perf_event_paranoid() + " (" + call + ")";
  if (err == ENOSYS) return "kernel without perf events (" + call + ")";
  return call + ": " + std::strerror(err);
}

// libpfm4 fills perf_event_attr for the first encoding the detected PMUs
// know; returns false with `why` when none does.
bool encode(const EventSpec& spec, int plm, perf_event_attr& attr, std::string& why) {
  std::string tried;
  for (const char* e : spec.encodings) {
    std::memset(&attr, 0, sizeof attr);
    pfm_perf_encode_arg_t arg;
    std::memset(&arg, 0, sizeof arg);
    arg.size = sizeof arg;
    arg.attr = &attr;
    const int rc = pfm_get_os_event_encoding(e, plm, PFM_OS_PERF_EVENT_EXT, &arg);
    if (rc == PFM_SUCCESS) return true;
    tried += (tried.empty() ? "" : ", ") + std::string(e) + ": " + pfm_strerror(rc);
  }
  why = "this CPU's PMU has no such event (libpfm4: " + tried + ")";
  return false;
}

int perf_event_open(perf_event_attr& attr, pid_t tid) {
  attr.size = sizeof attr;
  attr.disabled = 1;
  attr.inherit = 1;  // count threads created later too
  attr.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
  return int(syscall(SYS_perf_event_open, &attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC));
}

std::vector<pid_t> process_threads() {
  std::vector<pid_t> tids = {pid_t(syscall(SYS_gettid))};  // the caller first: its failure decides
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    const pid_t tid = pid_t(std::atol(entry.path().filename().c_str()));
    if (tid > 0 && tid != tids.front()) tids.push_back(tid);
  }
  return tids;
}

void close_all(std::vector<int>& fds) {
  for (int fd : fds) ::close(fd);
  fds.clear();
}

// One fd per thread, or none with `why`. Kernel + user mode first (page faults
// and context switches happen in the kernel); user-only when
// perf_event_paranoid forbids counting the kernel.
std::vector<int> open_for_threads(const EventSpec& spec, const std::vector<pid_t>& tids, bool& user_only,
                                  std::string& why) {
  std::vector<int> fds;
  for (int plm : {PFM_PLM0 | PFM_PLM3, PFM_PLM3}) {
    perf_event_attr attr;
    if (!encode(spec, plm, attr, why)) return fds;
    user_only = plm == PFM_PLM3;
    why.clear();
    int err = 0;
    for (pid_t tid : tids) {
      perf_event_attr a = attr;
      const int fd = perf_event_open(a, tid);
      if (fd >= 0) {
        fds.push_back(fd);
      } else if (errno != ESRCH || tid == tids.front()) {  // ESRCH: that thread has exited since
        err = errno;
        why = open_failure_reason(a, err);
        if (tid != tids.front()) why = "thread " + std::to_string(tid) + ": " + why;
        close_all(fds);  // all threads or none: a partial count would mislead
        break;
      }
    }
    if (!fds.empty() || (err != EACCES && err != EPERM)) return fds;  // only privilege is worth a retry
  }
  return fds;
}

}  // namespace

const std::vector<std::string>& PerfCounters::event_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& s : event_specs()) n.push_back(s.name);
    return n;
  }();
  return names;
}

PerfCounters::PerfCounters() {
  if (const int rc = pfm_status(); rc != PFM_SUCCESS) {
    for (const auto& s : event_specs()) unavailable_[s.name] = std::string("libpfm4 failed to initialise: ") + pfm_strerror(rc);
    return;
  }
  const std::vector<pid_t> tids = process_threads();
  for (const auto& spec : event_specs()) {
    Event ev;
    ev.name = spec.name;
    std::string why;
    ev.fds = open_for_threads(spec, tids, ev.user_only, why);
    if (ev.fds.empty()) {
      unavailable_[ev.name] = why.empty() ? "could not be opened" : why;
    } else {
      ev.baseline.resize(ev.fds.size());
      events_.push_back(std::move(ev));
    }
  }
}

PerfCounters::~PerfCounters() {
  for (auto& ev : events_) close_all(ev.fds);
}

// read_format gives {value, time_enabled, time_running}.
PerfCounters::Reading PerfCounters::read(int fd) {
  uint64_t v[3] = {0, 0, 0};
  if (::read(fd, v, sizeof v) != ssize_t(sizeof v)) return {};
  return {v[0], v[1], v[2]};
}

// Deltas against a baseline rather than PERF_EVENT_IOC_RESET: a reset leaves
// the counts folded in from exited child threads, so phases would accumulate.
void PerfCounters::start() {
  for (auto& ev : events_) {
    for (size_t i = 0; i < ev.fds.size(); ++i) ev.baseline[i] = read(ev.fds[i]);
  }
  started_ = Clock::now();
  for (auto& ev : events_)
    for (int fd : ev.fds) ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
}

void PerfCounters::stop() {
  for (auto& ev : events_)
    for (int fd : ev.fds) ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
  elapsed_s_ = seconds_since(started_);
  for (auto& ev : events_) {
    double total = 0.0;
    uint64_t enabled = 0, running = 0;
    for (size_t i = 0; i < ev.fds.size(); ++i) {
      const Reading r = read(ev.fds[i]);
      const uint64_t dv = r.value - ev.baseline[i].value;
      const uint64_t de = r.enabled - ev.baseline[i].enabled;
      const uint64_t dr = r.running - ev.baseline[i].running;
      enabled += de;
      running += dr;
      // Multiplexed: the PMU counted this event only dr of de ns; extrapolate.
      if (dr > 0) total += double(dv) * (double(de) / double(dr));
    }
    ev.running_fraction = enabled > 0 ? double(running) / double(enabled) : 1.0;
    if (enabled > 0 && running == 0)
      ev.measured.reset();  // never got a PMU slot: no honest number
    else
      ev.measured = total;
  }
}

std::optional<double> PerfCounters::value(const std::string& name) const {
  for (const auto& ev : events_)
    if (ev.name == name) return ev.measured;
  return std::nullopt;
}

nlohmann::json PerfCounters::to_json() const {
  nlohmann::json available = nlohmann::json::object(), unavailable = nlohmann::json::object(),
                 derived = nlohmann::json::object(), user_only = nlohmann::json::array(),
                 multiplexed = nlohmann::json::object();
  for (const auto& [name, why] : unavailable_) unavailable[name] = why;
  for (const auto& ev : events_) {
    if (ev.measured) {
      available[ev.name] = uint64_t(std::llround(*ev.measured));
    } else if (ev.running_fraction == 0.0) {
      unavailable[ev.name] = "never scheduled on the PMU (too many events multiplexed)";
      continue;
    } else {
      available[ev.name] = nullptr;  // opened, not measured yet
    }
    if (ev.user_only) user_only.push_back(ev.name);
    if (ev.running_fraction < 1.0) multiplexed[ev.name] = ev.running_fraction;
  }

  auto ratio = [&](const char* key, const char* num, const char* den) {
    const auto n = value(num), d = value(den);
    if (n && d && *d > 0) derived[key] = *n / *d;
  };
  ratio("ipc", "instructions", "cycles");
  ratio("cache_miss_ratio", "cache-misses", "cache-references");
  ratio("llc_load_miss_ratio", "llc-load-misses", "llc-loads");
  if (const auto tc = value("task-clock"); tc && elapsed_s_ > 0) derived["cpus_utilized"] = *tc * 1e-9 / elapsed_s_;
  const auto demand = value("dram-demand-fills"), prefetch = value("dram-prefetch-fills");
  if (demand && prefetch) {
    derived["dram_fill_bytes"] = (*demand + *prefetch) * kCacheLineBytes;
    if (elapsed_s_ > 0) derived["dram_fill_gbs"] = (*demand + *prefetch) * kCacheLineBytes / elapsed_s_ * 1e-9;
  }

  return {{"available", available}, {"unavailable", unavailable}, {"derived", derived},
          {"user_only", user_only}, {"multiplexed", multiplexed}, {"elapsed_s", elapsed_s_}};
}

}  // namespace qbench
