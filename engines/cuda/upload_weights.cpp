#include "engines/cuda/upload_weights.h"

#include "engines/core/error.h"
#include "engines/cuda/linear_dense_cuda.h"
#include "engines/cuda/linear_gguf_cuda.h"
#include "engines/cuda/linear_int4_cuda.h"

namespace qbench {

namespace {

std::unique_ptr<Linear> to_device(const Linear& l, const std::string& backend, const std::string& name) {
  DType dt{};
  if (const void* data = l.dense_data(&dt)) return make_dense_linear_cuda(dt, data, l.in_features(), l.out_features());
  if (const cpu::PackedInt4* p = l.int4_packed()) return make_int4_linear_cuda(*p, l.kind());
  GgufBlocksView g;
  if (l.gguf_blocks(&g)) return make_gguf_linear_cuda(g, l.in_features(), l.out_features());
  throw Error("backend '" + backend + "' is not on CUDA: " + name + " is stored as '" + l.kind() +
              "', which has no CUDA kernel; use --device cpu");
}

}  // namespace

ModelWeights upload_weights_cuda(ModelWeights host, const std::string& backend) {
  ModelWeights d;
  d.embed = to_device(*host.embed, backend, "token embedding");
  if (host.lm_head) d.lm_head = to_device(*host.lm_head, backend, "lm_head");
  d.final_norm = std::move(host.final_norm);
  d.layers.resize(host.layers.size());
  for (size_t i = 0; i < host.layers.size(); ++i) {
    LayerWeights& s = host.layers[i];
    LayerWeights& t = d.layers[i];
    const std::string p = "layer " + std::to_string(i) + " ";
    // Dense q/k/v of one dtype and input: one allocation, so a batched step runs them as one GEMM.
    DType dq{}, dk{}, dv{};
    const void* hq = s.q->dense_data(&dq);
    const void* hk = s.k->dense_data(&dk);
    const void* hv = s.v->dense_data(&dv);
    if (hq && hk && hv && dq == dk && dq == dv && s.q->in_features() == s.k->in_features() &&
        s.q->in_features() == s.v->in_features()) {
      auto g = make_dense_linears_cuda(dq, {hq, hk, hv}, s.q->in_features(),
                                       {s.q->out_features(), s.k->out_features(), s.v->out_features()});
      t.q = std::move(g[0]);
      t.k = std::move(g[1]);
      t.v = std::move(g[2]);
    } else {
      t.q = to_device(*s.q, backend, p + "q_proj");
      t.k = to_device(*s.k, backend, p + "k_proj");
      t.v = to_device(*s.v, backend, p + "v_proj");
    }
    t.o = to_device(*s.o, backend, p + "o_proj");
    t.gate = to_device(*s.gate, backend, p + "gate_proj");
    t.up = to_device(*s.up, backend, p + "up_proj");
    t.down = to_device(*s.down, backend, p + "down_proj");
    t.q_bias = std::move(s.q_bias);
    t.k_bias = std::move(s.k_bias);
    t.v_bias = std::move(s.v_bias);
    t.attn_norm = std::move(s.attn_norm);
    t.ffn_norm = std::move(s.ffn_norm);
  }
  // keep_alive stays empty: nothing on the device points into the host files.
  return d;
}

}  // namespace qbench
