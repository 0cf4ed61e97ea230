// qbench quantize: make a quantized checkpoint from an FP16/BF16 HF checkpoint.
// Each target format lives in its own file (cmd_quantize_<format>.cpp).
#include <cstdio>

#include "engines/core/error.h"
#include "harness/cli/args.h"
#include "harness/cli/commands.h"

namespace qbench::cli {

int cmd_quantize(int argc, char** argv) {
  std::string to;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--to" && i + 1 < argc) to = argv[i + 1];
    else if (a.rfind("--to=", 0) == 0) to = a.substr(5);
  }
  if (to == "gguf") return cmd_quantize_gguf(argc, argv);
  if (to == "gptq") return cmd_quantize_gptq(argc, argv);
  if (to == "awq") return cmd_quantize_awq(argc, argv);
  std::puts("qbench quantize --model HF_DIR --to gguf --type {q8_0,q4_k_m,q5_k_s} --out FILE.gguf\n"
            "qbench quantize --model HF_DIR --to gptq --bits 4 --group-size 128 [--desc-act] [--calib FILE] --out DIR\n"
            "qbench quantize --model HF_DIR --to awq --bits 4 --group-size 128 [--calib FILE] --out DIR");
  if (to.empty()) throw Error("missing --to (gguf, gptq or awq)");
  throw Error("unknown --to '" + to + "' (gguf, gptq or awq)");
}

}  // namespace qbench::cli
