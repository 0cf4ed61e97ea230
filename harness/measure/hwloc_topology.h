#pragma once
// The machine's topology, discovered once by hwloc and shared by sysinfo and
// thread pinning. Only PUs this process may run on are included (hwloc's
// default honours cgroups and taskset).
#include <hwloc.h>

namespace qbench {

// Loaded on first use and kept for the life of the process; read-only
// queries on it are thread-safe. Throws qbench::Error if hwloc cannot load.
hwloc_topology_t machine_topology();

}  // namespace qbench
