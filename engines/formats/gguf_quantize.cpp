#include "engines/formats/gguf_quantize.h"

#include <filesystem>
#include <vector>

#include "engines/core/error.h"
#include "engines/core/half.h"
#include "engines/formats/gguf_metadata_writer.h"
#include "engines/formats/gguf_tensor_names.h"
#include "engines/formats/gguf_writer.h"
#include "engines/formats/hf_checkpoint.h"
#include "engines/quant/quantize_ref.h"

namespace fs = std::filesystem;

namespace qbench {

namespace {

float element(const TensorRef& t, int64_t i) {
  switch (t.dtype) {
    case DType::F32: return static_cast<const float*>(t.data)[i];
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(t.data)[i]);
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(t.data)[i]);
    default: throw Error(t.file + ": tensor '" + t.name + "' has dtype " + dtype_name(t.dtype) + ", expected F16, BF16 or F32");
  }
}

// Stored row for output row r of a Llama Q/K matrix: llama.cpp's converter
// interleaves the two RoPE halves of every head (its RoPE rotates pairs).
int64_t llama_qk_source_row(int64_t r, int64_t head_dim) {
  const int64_t h = r / head_dim, k = r % head_dim, half = head_dim / 2;
  return h * head_dim + (k % 2) * half + k / 2;
}

}  // namespace

GgufQuantizeResult quantize_hf_to_gguf(const std::string& hf_dir, quant::GgufMix mix, const std::string& out_path) {
  HfCheckpoint ck(hf_dir);
  const ModelConfig& c = ck.config();
  GgufWriter w;
  write_gguf_model_metadata(w, c, fs::path(hf_dir).filename().string(), quant::mix_file_type(mix));
  const fs::path tok = fs::path(hf_dir) / "tokenizer.json", tok_cfg = fs::path(hf_dir) / "tokenizer_config.json";
  if (fs::exists(tok)) write_gguf_tokenizer_metadata(w, c, tok.string(), fs::exists(tok_cfg) ? tok_cfg.string() : "");

  quant::MixPlanner planner(mix, c.num_layers, !c.tie_word_embeddings);
  GgufQuantizeResult res;
  for (const PlannedTensor& p : planned_tensors(c)) {
    const TensorRef& t = ck.require(p.hf_name);
    std::vector<int64_t> hf_shape(p.dims.rbegin(), p.dims.rend());
    if (t.shape != hf_shape)
      throw Error(t.file + ": tensor '" + t.name + "' has shape " + t.shape_str() + ", not what config.json implies");
    const quant::GgmlType type = planner.type_for(p.gguf_name, int(p.dims.size()), p.dims[0]);
    const int64_t ne0 = p.dims[0], rows = t.numel() / ne0;
    const bool permute = c.model_type == "llama" &&
                         (p.gguf_name.find("attn_q.weight") != std::string::npos || p.gguf_name.find("attn_k.weight") != std::string::npos);
    const int64_t head_dim = c.head_dim;
    const TensorRef* tp = &t;
    w.add_tensor(p.gguf_name, type, p.dims, [tp, type, ne0, rows, permute, head_dim](uint8_t* dst, uint64_t) {
      const uint64_t rb = quant::row_bytes(type, ne0);
#pragma omp parallel
      {
        std::vector<float> row(static_cast<size_t>(ne0));
#pragma omp for schedule(dynamic, 16)
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t src = permute ? llama_qk_source_row(r, head_dim) : r;
          for (int64_t i = 0; i < ne0; ++i) row[size_t(i)] = element(*tp, src * ne0 + i);
          quant::quantize_row(type, row.data(), dst + uint64_t(r) * rb, ne0);
        }
      }
    });
    res.parameters += t.numel();
    ++res.type_counts[quant::type_name(type)];
  }
  res.weight_bytes = w.data_bytes();
  res.file_bytes = w.write(out_path);
  res.bits_per_weight = res.parameters ? 8.0 * double(res.weight_bytes) / double(res.parameters) : 0;
  return res;
}

}  // namespace qbench
