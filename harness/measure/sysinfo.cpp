#include "harness/measure/sysinfo.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "harness/measure/hwloc_topology.h"
#include "harness/measure/nvidia_gpus.h"

namespace qbench {

namespace {

// ISA features that decide which kernels can run, in the order they are reported.
const char* const kRelevantFlags[] = {"avx",         "avx2",     "fma",      "f16c",    "avx512f",
                                      "avx512bw",    "avx512vl", "avx512_vnni", "avx512_bf16", "avx_vnni",
                                      "amx_tile",    "amx_bf16", "amx_int8"};

int count_objects(hwloc_topology_t topo, hwloc_obj_type_t type) {
  return std::max(0, hwloc_get_nbobjs_by_type(topo, type));
}

// Size of one instance of a data (or unified) cache level.
uint64_t cache_bytes(hwloc_topology_t topo, hwloc_obj_type_t type) {
  for (hwloc_obj_t c = hwloc_get_next_obj_by_type(topo, type, nullptr); c;
       c = hwloc_get_next_obj_by_type(topo, type, c)) {
    if (c->attr && c->attr->cache.type != HWLOC_OBJ_CACHE_INSTRUCTION) return c->attr->cache.size;
  }
  return 0;
}

std::string cpu_model(hwloc_topology_t topo) {
  for (hwloc_obj_t o : {hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_PACKAGE, nullptr), hwloc_get_root_obj(topo)}) {
    if (!o) continue;
    if (const char* m = hwloc_obj_get_info_by_name(o, "CPUModel"); m && *m) return m;
  }
  return "unknown";
}

// hwloc does not report ISA extensions; the kernel's /proc/cpuinfo flags do
// (and already account for features the OS has not enabled).
std::vector<std::string> cpu_flags() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  std::set<std::string> present;
  while (std::getline(cpuinfo, line)) {
    if (!line.starts_with("flags")) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    for (std::string w; words >> w;) present.insert(w);
    break;  // every core lists the same flags
  }
  std::vector<std::string> flags;
  for (const char* f : kRelevantFlags)
    if (present.count(f)) flags.push_back(f);
  return flags;
}

CpuInfo collect_cpu_info() {
  hwloc_topology_t topo = machine_topology();
  CpuInfo c;
  c.model = cpu_model(topo);
  c.packages = std::max(1, count_objects(topo, HWLOC_OBJ_PACKAGE));
  c.cores = count_objects(topo, HWLOC_OBJ_CORE);
  c.threads = count_objects(topo, HWLOC_OBJ_PU);
  if (c.cores == 0) c.cores = c.threads;
  c.numa_nodes = std::max(1, count_objects(topo, HWLOC_OBJ_NUMANODE));
  c.l1d_bytes = cache_bytes(topo, HWLOC_OBJ_L1CACHE);
  c.l2_bytes = cache_bytes(topo, HWLOC_OBJ_L2CACHE);
  c.l3_bytes = cache_bytes(topo, HWLOC_OBJ_L3CACHE);
  c.flags = cpu_flags();
  return c;
}

// The kernel's usable RAM (MemTotal). Preferred to hwloc's sum of NUMA-node
// memory, which some VMs under-report (a node0 of 7 GB on a 24 GB guest).
uint64_t total_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) return uint64_t(pages) * uint64_t(page);
  return hwloc_get_root_obj(machine_topology())->total_memory;
}

// PRETTY_NAME from os-release, e.g. "Debian GNU/Linux 12 (bookworm)".
std::string os_name() {
  for (const char* path : {"/etc/os-release", "/usr/lib/os-release"}) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.starts_with("PRETTY_NAME=")) continue;
      std::string v = line.substr(12);
      if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
      return v;
    }
  }
  return "";
}

SystemInfo collect_uncached() {
  SystemInfo s;
  char host[256] = "";
  if (gethostname(host, sizeof host - 1) == 0) s.hostname = host;
  s.os = os_name();
  utsname u{};
  if (uname(&u) == 0) s.kernel = std::string(u.sysname) + " " + u.release + " " + u.machine;
  s.cpu = collect_cpu_info();
  s.memory_bytes = total_memory_bytes();
  s.gpus = query_nvidia_gpus();
  return s;
}

std::string human_bytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = double(b);
  int u = 0;
  while (v >= 1024.0 && u < 4) v /= 1024.0, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 || v >= 100 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string plural(int n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

}  // namespace

SystemInfo collect_system_info() {
  static const SystemInfo cached = collect_uncached();  // thread-safe one-time init
  return cached;
}

nlohmann::json CpuInfo::to_json() const {
  return {{"model", model},         {"packages", packages},   {"cores", cores},
          {"threads", threads},     {"numa_nodes", numa_nodes}, {"l1d_bytes", l1d_bytes},
          {"l2_bytes", l2_bytes},   {"l3_bytes", l3_bytes},   {"flags", flags}};
}

nlohmann::json GpuInfo::to_json() const {
  return {{"name", name},         {"driver", driver},     {"uuid", uuid},
          {"memory_bytes", memory_bytes}, {"sm_count", sm_count}, {"compute_capability", compute_capability}};
}

nlohmann::json SystemInfo::to_json() const {
  nlohmann::json g = nlohmann::json::array();
  for (const auto& gpu : gpus) g.push_back(gpu.to_json());
  return {{"hostname", hostname}, {"os", os},     {"kernel", kernel}, {"cpu", cpu.to_json()},
          {"memory_bytes", memory_bytes}, {"gpus", g}};
}

std::string format_system_info(const SystemInfo& s) {
  std::ostringstream o;
  auto row = [&](const std::string& key, const std::string& value) {
    o << key << std::string(key.size() < 10 ? 10 - key.size() : 1, ' ') << value << "\n";
  };
  const CpuInfo& c = s.cpu;
  row("host", s.hostname);
  row("os", s.os);
  row("kernel", s.kernel);
  row("cpu", c.model);
  row("topology", plural(c.packages, "package") + ", " + plural(c.cores, "core") + ", " +
                      plural(c.threads, "thread") + ", " + plural(c.numa_nodes, "NUMA node"));
  row("caches", "L1d " + human_bytes(c.l1d_bytes) + ", L2 " + human_bytes(c.l2_bytes) + ", L3 " +
                    human_bytes(c.l3_bytes) + " (per instance)");
  std::string flags;
  for (const auto& f : c.flags) flags += (flags.empty() ? "" : " ") + f;
  row("isa", flags.empty() ? "(none of the tracked extensions)" : flags);
  row("memory", human_bytes(s.memory_bytes));
  if (s.gpus.empty()) row("gpus", "none (no NVML)");
  for (size_t i = 0; i < s.gpus.size(); ++i) {
    const GpuInfo& g = s.gpus[i];
    std::string line = g.name + ", " + human_bytes(g.memory_bytes);
    if (g.sm_count > 0) line += ", " + std::to_string(g.sm_count) + " SMs";
    if (!g.compute_capability.empty()) line += ", compute " + g.compute_capability;
    line += ", driver " + g.driver + ", " + g.uuid;
    row("gpu " + std::to_string(i), line);
  }
  return o.str();
}

}  // namespace qbench
