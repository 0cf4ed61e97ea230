// Kernel timeline of any CUDA program, graph-replayed kernels included, without Nsight Systems (the device
// machines have none): preload this library and name an output file,
//
//   QBENCH_KERNEL_TRACE=trace.csv LD_PRELOAD=build/bench/libqbench_kernel_trace.so PROGRAM ARGS...
//
// It enables CUPTI's concurrent-kernel activity records (start and end of every kernel on the GPU's clock,
// kernels of a graph launch one by one with their graph and node ids; programmatic dependent launches keep
// overlapping) and writes them at exit as CSV, atomically (a temporary file renamed into place):
//   start_ns,end_ns,graph_id,node_id,grid_x,grid_y,grid_z,block_x,name
// bench/kernel_trace_summary.py turns a decode run's trace into where each step's time goes. Serialised
// per-kernel times (ncu) cannot show what overlaps inside the graph; this can.
#include <cupti.h>
#include <cxxabi.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

struct KernelRecord {
  uint64_t start, end, node;
  uint32_t graph;
  int32_t gx, gy, gz, bx;
  const std::string* name;
};

struct Trace {
  std::mutex mu;
  std::string path;
  std::vector<KernelRecord> kernels;
  std::unordered_map<std::string, std::string> names;  // mangled -> demangled (stable addresses)
  size_t dropped = 0;
};

Trace& trace() {
  static Trace* t = new Trace;  // never destroyed: CUPTI may deliver buffers during exit
  return *t;
}

const std::string* demangled(Trace& t, const char* mangled) {
  auto it = t.names.find(mangled);
  if (it != t.names.end()) return &it->second;
  int status = 0;
  char* d = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string name = status == 0 && d ? d : mangled;
  std::free(d);
  return &t.names.emplace(mangled, std::move(name)).first->second;
}

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
  constexpr size_t kBytes = 8u << 20;
  *buffer = static_cast<uint8_t*>(std::aligned_alloc(8, kBytes));
  *size = *buffer ? kBytes : 0;
  *max_records = 0;
}

void CUPTIAPI buffer_completed(CUcontext ctx, uint32_t stream, uint8_t* buffer, size_t, size_t valid) {
  Trace& t = trace();
  std::lock_guard<std::mutex> lock(t.mu);
  CUpti_Activity* r = nullptr;
  while (cuptiActivityGetNextRecord(buffer, valid, &r) == CUPTI_SUCCESS) {
    if (r->kind != CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) continue;
    const auto* k = reinterpret_cast<const CUpti_ActivityKernel10*>(r);
    t.kernels.push_back({k->start, k->end, k->graphNodeId, k->graphId, k->gridX, k->gridY, k->gridZ, k->blockX,
                         demangled(t, k->name ? k->name : "?")});
  }
  size_t dropped = 0;
  if (cuptiActivityGetNumDroppedRecords(ctx, stream, &dropped) == CUPTI_SUCCESS) t.dropped += dropped;
  std::free(buffer);
}

bool ok(CUptiResult r, const char* what) {
  if (r == CUPTI_SUCCESS) return true;
  const char* msg = nullptr;
  cuptiGetResultString(r, &msg);
  std::fprintf(stderr, "qbench kernel trace: %s failed: %s (no trace written)\n", what, msg ? msg : "?");
  return false;
}

void write_trace() {
  Trace& t = trace();
  if (t.path.empty()) return;
  cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
  std::lock_guard<std::mutex> lock(t.mu);
  const std::string tmp = t.path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) {
    std::fprintf(stderr, "qbench kernel trace: cannot write %s: %s\n", tmp.c_str(), std::strerror(errno));
    return;
  }
  std::fprintf(f, "start_ns,end_ns,graph_id,node_id,grid_x,grid_y,grid_z,block_x,name\n");
  for (const KernelRecord& k : t.kernels) {
    std::string name = *k.name;  // CSV: the name is the last field, quoted, quotes doubled
    for (size_t p = 0; (p = name.find('"', p)) != std::string::npos; p += 2) name.insert(p, 1, '"');
    std::fprintf(f, "%llu,%llu,%u,%llu,%d,%d,%d,%d,\"%s\"\n", static_cast<unsigned long long>(k.start),
                 static_cast<unsigned long long>(k.end), k.graph, static_cast<unsigned long long>(k.node), k.gx, k.gy,
                 k.gz, k.bx, name.c_str());
  }
  const bool written = std::fflush(f) == 0 && !std::ferror(f);
  if (std::fclose(f) != 0 || !written || std::rename(tmp.c_str(), t.path.c_str()) != 0) {
    std::fprintf(stderr, "qbench kernel trace: writing %s failed: %s\n", t.path.c_str(), std::strerror(errno));
    std::remove(tmp.c_str());
    return;
  }
  std::fprintf(stderr, "qbench kernel trace: %zu kernels written to %s (%zu records dropped)\n", t.kernels.size(),
               t.path.c_str(), t.dropped);
}

__attribute__((constructor)) void start_trace() {
  const char* path = std::getenv("QBENCH_KERNEL_TRACE");
  if (!path || !*path) return;
  if (!ok(cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed), "cuptiActivityRegisterCallbacks") ||
      !ok(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL), "cuptiActivityEnable(CONCURRENT_KERNEL)"))
    return;
  trace().path = path;
  std::atexit(write_trace);
}

}  // namespace
