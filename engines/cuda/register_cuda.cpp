#include "engines/cuda/register_cuda.h"

#include "engines/cuda/cuda_context.h"
#include "engines/cuda/device_memory.h"
#include "engines/cuda/ops_cuda.h"
#include "engines/cuda/upload_weights.h"
#include "engines/registry/registry.h"

namespace qbench {

namespace {

// Host model -> device: CUDA context first (so its own memory is outside the
// load delta), then weights, then the transformer's buffers.
std::unique_ptr<Transformer> build_on_cuda(LoadedModel& m, const LoadOptions& opts) {
  cuda::ensure_device();  // "no CUDA device: ..." before any work
  auto ops = make_cuda_ops();
  uint64_t free0 = 0, free1 = 0, total = 0;
  cuda::mem_info(&free0, &total);
  ModelWeights w = upload_weights_cuda(std::move(m.weights), m.info.backend);
  auto t = std::make_unique<Transformer>(std::move(m.config), std::move(w), std::move(ops), opts.max_chunk);
  cuda::mem_info(&free1, nullptr);
  m.info.details["cuda"] = {{"gpu", cuda::device_facts()},
                            {"load_cuda_mem_delta_bytes", int64_t(free0) - int64_t(free1)},
                            {"load_engine_weight_bytes", t->memory().current().weights},
                            {"free_bytes_before_load", free0},
                            {"total_bytes", total}};
  return t;
}

}  // namespace

void register_cuda_device() { register_device("cuda", {build_on_cuda, [] { return cuda::device_memory_now(); }}); }

}  // namespace qbench
