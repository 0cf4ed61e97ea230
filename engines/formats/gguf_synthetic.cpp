#include "engines/formats/gguf_synthetic.h"

#include <cstring>

#include "engines/formats/gguf_metadata_writer.h"
#include "engines/formats/gguf_tensor_names.h"
#include "engines/formats/gguf_writer.h"
#include "engines/quant/random_blocks.h"

namespace qbench {

uint64_t write_synthetic_gguf(const ModelConfig& cfg, quant::GgufMix mix, const SyntheticGgufOptions& opt) {
  cfg.validate("synthetic config");
  GgufWriter w;
  write_gguf_model_metadata(w, cfg, std::string("synthetic-") + cfg.model_type, quant::mix_file_type(mix));
  if (!opt.tokenizer_json.empty()) write_gguf_tokenizer_metadata(w, cfg, opt.tokenizer_json, opt.tokenizer_config);
  quant::MixPlanner planner(mix, cfg.num_layers, !cfg.tie_word_embeddings);
  uint64_t tensor_index = 0;
  for (const PlannedTensor& p : planned_tensors(cfg)) {
    const quant::GgmlType type = planner.type_for(p.gguf_name, int(p.dims.size()), p.dims[0]);
    const int64_t ne0 = p.dims[0];
    const bool is_norm = p.gguf_name.find("norm") != std::string::npos, is_bias = p.gguf_name.find(".bias") != std::string::npos;
    const uint64_t seed = opt.seed * 0x100000001b3ull + (++tensor_index) * 0x9e3779b97f4a7c15ull;
    w.add_tensor(p.gguf_name, type, p.dims, [=](uint8_t* dst, uint64_t nbytes) {
      if (is_norm || is_bias) {  // RMSNorm weights 1, biases 0: keeps activations in range through many layers
        const float v = is_norm ? 1.f : 0.f;
        for (uint64_t i = 0; i < nbytes / 4; ++i) std::memcpy(dst + 4 * i, &v, 4);
        return;
      }
      const uint64_t rb = quant::row_bytes(type, ne0);
      const int64_t rows = int64_t(nbytes / rb);
#pragma omp parallel for schedule(static)
      for (int64_t r = 0; r < rows; ++r) quant::fill_random_row(type, ne0, seed ^ (uint64_t(r) * 0xbf58476d1ce4e5b9ull), dst + r * rb);
    });
  }
  return w.write(opt.out_path);
}

}  // namespace qbench
