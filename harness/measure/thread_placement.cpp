#include "harness/measure/thread_placement.h"

#include <cerrno>
#include <cstring>
#include <map>

#include "engines/core/error.h"
#include "harness/measure/hwloc_topology.h"

namespace qbench {

namespace {

using PuList = std::vector<int>;

// PUs inside `domain`, ordered as compact placement wants them: the first PU of
// every core, then the second PU of every core, ... (SMT siblings last).
PuList compact_order(hwloc_topology_t topo, hwloc_const_cpuset_t domain) {
  // Cores in logical (package-major) order, each with its PUs; a PU without a
  // core ancestor (some VMs) counts as its own core.
  std::vector<PuList> cores;
  std::map<hwloc_obj_t, size_t> core_index;
  for (hwloc_obj_t pu = hwloc_get_next_obj_inside_cpuset_by_type(topo, domain, HWLOC_OBJ_PU, nullptr); pu;
       pu = hwloc_get_next_obj_inside_cpuset_by_type(topo, domain, HWLOC_OBJ_PU, pu)) {
    hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_CORE, pu);
    if (!core) core = pu;
    auto [it, added] = core_index.emplace(core, cores.size());
    if (added) cores.emplace_back();
    cores[it->second].push_back(int(pu->os_index));
  }
  PuList order;
  for (size_t smt = 0;; ++smt) {
    const size_t before = order.size();
    for (const auto& c : cores)
      if (smt < c.size()) order.push_back(c[smt]);
    if (order.size() == before) break;
  }
  return order;
}

// Scatter spreads over memory domains: NUMA nodes when there are several, else packages.
std::vector<hwloc_obj_t> scatter_domains(hwloc_topology_t topo) {
  for (hwloc_obj_type_t type : {HWLOC_OBJ_NUMANODE, HWLOC_OBJ_PACKAGE}) {
    std::vector<hwloc_obj_t> d;
    for (hwloc_obj_t o = hwloc_get_next_obj_by_type(topo, type, nullptr); o; o = hwloc_get_next_obj_by_type(topo, type, o))
      if (o->cpuset && !hwloc_bitmap_iszero(o->cpuset)) d.push_back(o);
    if (d.size() > 1) return d;
  }
  return {hwloc_get_root_obj(topo)};
}

PuList scatter_order(hwloc_topology_t topo) {
  std::vector<PuList> per_domain;
  for (hwloc_obj_t d : scatter_domains(topo)) per_domain.push_back(compact_order(topo, d->cpuset));
  PuList order;
  for (size_t i = 0;; ++i) {
    const size_t before = order.size();
    for (const auto& d : per_domain)
      if (i < d.size()) order.push_back(d[i]);
    if (order.size() == before) break;
  }
  return order;
}

}  // namespace

PinPolicy parse_pin_policy(const std::string& s) {
  if (s == "none") return PinPolicy::None;
  if (s == "compact") return PinPolicy::Compact;
  if (s == "scatter") return PinPolicy::Scatter;
  throw Error("unknown pin policy '" + s + "' (expected none, compact or scatter)");
}

std::string to_string(PinPolicy p) {
  switch (p) {
    case PinPolicy::None: return "none";
    case PinPolicy::Compact: return "compact";
    case PinPolicy::Scatter: return "scatter";
  }
  return "none";
}

std::vector<int> plan_thread_placement(PinPolicy policy, int threads) {
  if (policy == PinPolicy::None || threads <= 0) return {};
  hwloc_topology_t topo = machine_topology();
  const PuList order = policy == PinPolicy::Compact ? compact_order(topo, hwloc_get_root_obj(topo)->cpuset)
                                                    : scatter_order(topo);
  if (order.empty()) throw Error("hwloc reports no CPU this process may run on");
  std::vector<int> cpus(static_cast<size_t>(threads));
  for (size_t t = 0; t < cpus.size(); ++t) cpus[t] = order[t % order.size()];
  return cpus;
}

std::string bind_current_thread_to_cpu(int cpu) {
  hwloc_bitmap_t set = hwloc_bitmap_alloc();
  hwloc_bitmap_only(set, unsigned(cpu));
  const int rc = hwloc_set_cpubind(machine_topology(), set, HWLOC_CPUBIND_THREAD);
  const int err = errno;
  hwloc_bitmap_free(set);
  return rc == 0 ? "" : "cannot bind to cpu " + std::to_string(cpu) + ": " + std::strerror(err);
}

}  // namespace qbench
