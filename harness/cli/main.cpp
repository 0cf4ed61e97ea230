// qbench: reproducible benchmarks of quantized LLM inference.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "engines/core/error.h"
#include "harness/cli/commands.h"
#ifdef QBENCH_HAVE_CUDA
#include "engines/cuda/register_cuda.h"
#endif

namespace {

const char* kUsage = R"(qbench: benchmark and evaluate quantized LLM inference

usage: qbench <command> [options]

commands:
  run        --model PATH [--backend B] [--device cpu|cuda] --workload latency [--prompt-tokens 512] [--gen-tokens 256]
             [--reps 3] [--warmup 1] [--threads N] [--kv-type f16|f32] [--out FILE.json]
             --workload throughput --requests N (--concurrency C | --rate R | --sweep concurrency=1,2,4) ...
  fixture    --shape {tiny,qwen2.5-0.5b,qwen2.5-1.5b,qwen2.5-7b,...} --out PATH [--seed N]
             [--format fp16|gguf-q8_0|gguf-q5_k_s|gguf-q4_k_m|gptq-int4|awq-int4]
  tokenize   (--model PATH | --tokenizer tokenizer.json) [--chat] [--json] [TEXT]   (TEXT or stdin)
  logits     --model PATH [--backend B] --tokens 1,2,3 --out FILE.npy [--kv-type f32]
  plan       --model M [--backends fp16,gguf-q4_k_m,..] [--gpus t4,h100,..|cpu] [--context N] [--batch B]
             [--prices FILE] [--calibrate RESULT.json..] [--json|--markdown]   will it fit, how fast, what cost
  eval       mmlu --model PATH [--data DIR] [--shots 5] [--baseline FILE] --out FILE.json  |  ppl --model PATH [--text FILE] [--save-logits F | --kl-base F]
  quantize   --model HF_DIR --to {gguf,gptq,awq} ... --out PATH
  matrix     run SPEC.json [--resume] [--force] [--no-report]   every (model x backend x device x workload) cell
  report     RESULT.json|DIR... --out DIR [--lang en|zh] [--prices prices.json]   tables, charts, HTML
  compare    BASELINE CURRENT [--threshold metric=pct ...] [--stat median|p99]   CI regression gate (exit 1)
  backends   list the backends this build knows
  sysinfo    print the hardware qbench sees

Run `qbench <command> --help` for a command's options.
)";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "help") || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
#ifdef QBENCH_HAVE_CUDA
  qbench::register_cuda_device();  // --device cuda
#endif
  try {
    if (cmd == "run") return qbench::cli::cmd_run(argc, argv);
    if (cmd == "fixture") return qbench::cli::cmd_fixture(argc, argv);
    if (cmd == "tokenize") return qbench::cli::cmd_tokenize(argc, argv);
    if (cmd == "logits") return qbench::cli::cmd_logits(argc, argv);
    if (cmd == "backends") return qbench::cli::cmd_backends(argc, argv);
    if (cmd == "sysinfo") return qbench::cli::cmd_sysinfo(argc, argv);
    if (cmd == "plan") return qbench::cli::cmd_plan(argc, argv);
    if (cmd == "eval") return qbench::cli::cmd_eval(argc, argv);
    if (cmd == "quantize") return qbench::cli::cmd_quantize(argc, argv);
    if (cmd == "matrix") return qbench::cli::cmd_matrix(argc, argv);
    if (cmd == "report") return qbench::cli::cmd_report(argc, argv);
    if (cmd == "compare") return qbench::cli::cmd_compare(argc, argv);
    std::fprintf(stderr, "qbench: unknown command '%s'\n\n%s", cmd.c_str(), kUsage);
    return 2;
  } catch (const qbench::OutOfMemory& e) {
    std::fprintf(stderr, "qbench: out of memory: %s (needed %llu bytes)\n", e.what(), (unsigned long long)e.needed_bytes);
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "qbench: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qbench: error: %s\n", e.what());
    return 1;
  }
}
