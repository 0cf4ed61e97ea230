#include "harness/measure/hwloc_topology.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "engines/core/error.h"

namespace qbench {

namespace {

struct LoadedTopology {
  hwloc_topology_t topo = nullptr;
  LoadedTopology() {
    if (hwloc_topology_init(&topo) != 0) fail();
    if (hwloc_topology_load(topo) != 0) {
      const int err = errno;
      hwloc_topology_destroy(topo);
      fail(err);
    }
  }
  ~LoadedTopology() { hwloc_topology_destroy(topo); }
  [[noreturn]] static void fail(int err = errno) {
    throw Error(std::string("hwloc cannot load the machine topology: ") + std::strerror(err));
  }
};

}  // namespace

hwloc_topology_t machine_topology() {
  static LoadedTopology loaded;  // thread-safe one-time init
  return loaded.topo;
}

}  // namespace qbench
