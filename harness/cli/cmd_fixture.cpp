// qbench fixture: a random-weight HF checkpoint of a real architecture (no download).
#include <cstdio>

#include "engines/core/error.h"
#include "engines/formats/gguf_synthetic.h"
#include "engines/formats/gptq_awq_synthetic.h"
#include "engines/formats/synthetic_checkpoint.h"
#include "engines/model/shape_catalog.h"
#include "harness/cli/args.h"
#include "harness/cli/bundled_files.h"
#include "harness/cli/commands.h"
#include "reports/units.h"

namespace qbench::cli {

int cmd_fixture(int argc, char** argv) {
  Args a(argc, argv, 2, {"shape", "out", "seed", "tokenizer", "shard-mb", "format"}, {"help", "no-tokenizer"});
  if (a.flag("help")) {
    std::string shapes;
    for (auto& s : shape_names()) shapes += " " + s;
    std::printf("qbench fixture --shape NAME --out DIR [--seed N] [--tokenizer tokenizer.json] [--shard-mb 4096]\n"
        "              [--format fp16|gguf-q8_0|gguf-q5_k_s|gguf-q4_k_m|gptq-int4|awq-int4]  (gguf: --out is the .gguf file)\nshapes:%s\n",
                shapes.c_str());
    return 0;
  }
  const ModelConfig cfg = shape_config(a.require("shape"));
  const std::string format = a.get("format", "fp16");
  if (format.rfind("gguf-", 0) == 0) {  // random quantised blocks written straight into a GGUF file
    SyntheticGgufOptions g;
    g.out_path = a.require("out");
    g.seed = uint64_t(a.get_int("seed", 0));
    if (!a.flag("no-tokenizer")) g.tokenizer_json = a.has("tokenizer") ? a.get("tokenizer") : bundled_tokenizer_json();
    const uint64_t bytes = write_synthetic_gguf(cfg, quant::parse_mix(format.substr(5)), g);
    std::printf("%s: %s GGUF %s file, seed %llu\n", g.out_path.c_str(), format_bytes(bytes).c_str(), format.c_str() + 5,
                (unsigned long long)g.seed);
    return 0;
  }
  if (format == "gptq-int4" || format == "awq-int4") {  // random 4-bit codes in AutoGPTQ / AutoAWQ layout, group 128
    SyntheticInt4Options q;
    q.out_dir = a.require("out");
    q.seed = uint64_t(a.get_int("seed", 0));
    q.max_shard_bytes = uint64_t(a.get_int("shard-mb", 4096)) << 20;
    if (q.max_shard_bytes == 0) throw Error("--shard-mb must be positive");
    if (!a.flag("no-tokenizer")) q.tokenizer_json = a.has("tokenizer") ? a.get("tokenizer") : bundled_tokenizer_json();
    const uint64_t bytes =
        write_synthetic_int4_checkpoint(cfg, format == "gptq-int4" ? Int4FileFormat::Gptq : Int4FileFormat::Awq, q);
    std::printf("%s: %s %s checkpoint, seed %llu\n", q.out_dir.c_str(), format_bytes(bytes).c_str(), format.c_str(),
                (unsigned long long)q.seed);
    return 0;
  }
  if (format != "fp16") throw Error("unknown --format '" + format + "' (fp16, gguf-q8_0, gguf-q5_k_s, gguf-q4_k_m, gptq-int4, awq-int4)");
  SyntheticOptions o;
  o.out_dir = a.require("out");
  o.seed = uint64_t(a.get_int("seed", 0));
  o.max_shard_bytes = uint64_t(a.get_int("shard-mb", 4096)) << 20;
  if (o.max_shard_bytes == 0) throw Error("--shard-mb must be positive");
  if (!a.flag("no-tokenizer")) {
    o.tokenizer_json = a.has("tokenizer") ? a.get("tokenizer") : bundled_tokenizer_json();
    if (o.tokenizer_json.empty())
      throw Error("no tokenizer: run scripts/setup.sh (fetches the Qwen2.5 tokenizer), pass --tokenizer, or --no-tokenizer");
  }
  std::fprintf(stderr, "qbench: writing %s (%s, %.1f M parameters) to %s\n", a.get("shape").c_str(), cfg.architecture.c_str(),
               cfg.parameter_count() / 1e6, o.out_dir.c_str());
  const uint64_t bytes = write_synthetic_checkpoint(cfg, o);
  std::printf("%s: %s of F16 weights, seed %llu\n", o.out_dir.c_str(), format_bytes(bytes).c_str(), (unsigned long long)o.seed);
  return 0;
}

}  // namespace qbench::cli
