#pragma once
// The check both decode-GEMV fold tests make (cuda_int4_test.cpp, cuda_gguf_test.cpp): x through RMSNorm (or
// SiLU·mul) and then one Linear's forward, with the launch folds off and on. With them on, the producer may
// write the GEMV's activation form itself (half_copy.h): the outputs must be the same bits, with a launch fewer.
// Include only where QBENCH_HAVE_CUDA is defined.
#include <cstdint>
#include <vector>

#include "engines/cuda/fold_control.h"
#include "engines/cuda/launch_queue.h"
#include "engines/model/linear.h"
#include "tests/support/cuda_test_support.h"

namespace qbench::test {

struct ProducerFold {
  std::vector<float> off, on;  // the Linear's outputs
  uint64_t launches_off = 0, launches_on = 0;
};

// n tokens of `in` inputs (random, seeds fixed) into lin; silu: SiLU·mul(x, gate) instead of RMSNorm(x) · w.
inline ProducerFold producer_then_linear(Ops& ops, const Linear& lin, int64_t n, bool silu) {
  const int64_t in = lin.in_features(), out = lin.out_features();
  DeviceArray<float> dx(&ops, randu(size_t(n * in), 21), nullptr, MemCategory::Activations);
  DeviceArray<float> dg(&ops, randu(size_t(n * in), 22), nullptr, MemCategory::Activations);
  DeviceArray<float> dw(&ops, randu(size_t(in), 23, 0.5f, 1.5f), nullptr, MemCategory::Activations);
  DeviceArray<float> dy(&ops, size_t(n * in), nullptr, MemCategory::Activations);
  DeviceArray<float> dz(&ops, size_t(n * out), nullptr, MemCategory::Activations);
  auto run = [&](bool folds, uint64_t& launches) {
    cuda::set_launch_folds_enabled(folds);
    cuda::flush();
    const uint64_t before = cuda::graph_stats().launches;
    if (silu) ops.silu_mul(dx.data(), dg.data(), dy.data(), n * in);
    else ops.rmsnorm(dx.data(), dw.data(), dy.data(), n, in, 1e-6f);
    lin.forward(dy.data(), dz.data(), n);
    launches = cuda::graph_stats().launches - before;
    return to_host(ops, dz);
  };
  const bool was = cuda::launch_folds_enabled();
  ProducerFold r;
  r.off = run(false, r.launches_off);
  r.on = run(true, r.launches_on);
  cuda::set_launch_folds_enabled(was);
  return r;
}

}  // namespace qbench::test
