// qbench quantize --to gptq: GPTQ (Hessian from calibration text, error
// feedback, optional act-order) into an AutoGPTQ-format checkpoint.
#include <cstdio>

#include "engines/core/error.h"
#include "engines/quant/int4_model_quantizer.h"
#include "harness/cli/args.h"
#include "harness/cli/commands.h"

namespace qbench::cli {

int cmd_quantize_gptq(int argc, char** argv) {
  Args a(argc, argv, 2, {"to", "model", "out", "bits", "group-size", "calib", "damp", "seq-len", "seqs"},
         {"desc-act", "asym", "help"});
  if (a.flag("help")) {
    std::puts("qbench quantize --model HF_DIR --to gptq --out DIR [--bits 4] [--group-size 128] [--desc-act] [--asym]\n"
              "                [--calib FILE] [--seq-len 128] [--seqs 128] [--damp 0.01]");
    return 0;
  }
  quant::ModelQuantizeOptions o;
  o.method = "gptq";
  o.group_size = a.get_int("group-size", 128);
  o.desc_act = a.flag("desc-act");
  o.sym = !a.flag("asym");
  o.damp = a.get_double("damp", 0.01);
  if (a.get_int("bits", 4) != 4) throw Error("--bits: only 4-bit GPTQ is implemented");
  if (o.damp <= 0 || o.damp >= 1) throw Error("--damp must lie in (0, 1)");
  const std::string model = a.require("model"), out = a.require("out");
  o.calibration = quant::calibration_for_model(model, a.get("calib"), a.get_int("seq-len", 128), a.get_int("seqs", 128));
  const auto rep = quant::quantize_model(model, out, o);
  std::printf("%s", quant::error_report_table(rep, o.method).c_str());
  std::printf("%s: %s checkpoint written (group size %lld)\n", out.c_str(), o.method.c_str(), (long long)o.group_size);
  return 0;
}

}  // namespace qbench::cli
