// qbench quantize --to awq: AWQ activation-aware scale search, scales folded
// into the preceding norms/projections, AutoAWQ GEMM-format checkpoint.
#include <cstdio>

#include "engines/core/error.h"
#include "engines/quant/int4_model_quantizer.h"
#include "harness/cli/args.h"
#include "harness/cli/commands.h"

namespace qbench::cli {

int cmd_quantize_awq(int argc, char** argv) {
  Args a(argc, argv, 2, {"to", "model", "out", "bits", "group-size", "calib", "seq-len", "seqs", "grid"}, {"help"});
  if (a.flag("help")) {
    std::puts("qbench quantize --model HF_DIR --to awq --out DIR [--bits 4] [--group-size 128] [--calib FILE]\n"
              "                [--seq-len 128] [--seqs 128] [--grid 20]");
    return 0;
  }
  quant::ModelQuantizeOptions o;
  o.method = "awq";
  o.group_size = a.get_int("group-size", 128);
  o.awq_grid = int(a.get_int("grid", 20));
  if (a.get_int("bits", 4) != 4) throw Error("--bits: only 4-bit AWQ is implemented");
  if (o.awq_grid < 1 || o.awq_grid > 1000) throw Error("--grid must lie in 1..1000");
  const std::string model = a.require("model"), out = a.require("out");
  o.calibration = quant::calibration_for_model(model, a.get("calib"), a.get_int("seq-len", 128), a.get_int("seqs", 128));
  const auto rep = quant::quantize_model(model, out, o);
  std::printf("%s", quant::error_report_table(rep, o.method).c_str());
  std::printf("%s: %s checkpoint written (group size %lld)\n", out.c_str(), o.method.c_str(), (long long)o.group_size);
  return 0;
}

}  // namespace qbench::cli
