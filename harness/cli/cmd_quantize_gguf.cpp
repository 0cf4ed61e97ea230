// qbench quantize --to gguf: HF checkpoint -> GGUF of a llama-quantize mix.
#include <cstdio>

#include "engines/core/error.h"
#include "engines/formats/gguf_quantize.h"
#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "reports/units.h"

namespace qbench::cli {

int cmd_quantize_gguf(int argc, char** argv) {
  Args a(argc, argv, 2, {"model", "to", "type", "out"}, {"help"});
  if (a.flag("help")) {
    std::puts("qbench quantize --model HF_DIR --to gguf --type {q8_0,q4_k_m,q5_k_s} --out FILE.gguf\n"
              "  per-tensor types and block quantisers as llama-quantize (no importance matrix)");
    return 0;
  }
  const quant::GgufMix mix = quant::parse_mix(a.require("type"));
  const std::string model = a.require("model"), out = a.require("out");
  std::fprintf(stderr, "qbench: quantizing %s to GGUF %s -> %s\n", model.c_str(), quant::mix_name(mix), out.c_str());
  const GgufQuantizeResult r = quantize_hf_to_gguf(model, mix, out);
  std::string types;
  for (auto& [t, n] : r.type_counts) types += (types.empty() ? "" : ", ") + std::to_string(n) + " " + t;
  std::printf("%s: %s (%llu bytes), %.3f bits per weight over %.1f M parameters; tensors: %s\n", out.c_str(),
              format_bytes(r.file_bytes).c_str(), (unsigned long long)r.file_bytes, r.bits_per_weight, r.parameters / 1e6,
              types.c_str());
  return 0;
}

}  // namespace qbench::cli
