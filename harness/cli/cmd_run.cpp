// qbench run: load a model, run a workload, print a summary, write the result file.
#include <omp.h>

#include <cstdio>
#include <iostream>

#include "engines/core/error.h"
#include "engines/registry/registry.h"
#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "harness/measure/atomic_file.h"
#include "harness/measure/result_envelope.h"
#include "harness/measure/thread_pinning.h"
#include "reports/latency_summary.h"
#include "workloads/latency.h"

namespace qbench::cli {

int cmd_run(int argc, char** argv) {
  Args a(argc, argv, 2,
         {"model", "backend", "device", "workload", "prompt-tokens", "gen-tokens", "reps", "warmup", "threads", "pin",
          "kv-type", "out", "temperature", "top-p", "seed", "max-chunk"},
         {"stop-at-eos", "no-counters", "quiet", "help"});
  if (a.flag("help")) {
    std::puts(
        "qbench run --model PATH [--backend auto|fp16|bf16|...] [--device cpu] --workload latency\n"
        "  [--prompt-tokens 512] [--gen-tokens 256] [--reps 3] [--warmup 1] [--threads N] [--pin none|compact|scatter]\n"
        "  [--kv-type f16|f32] [--temperature 0] [--top-p 1] [--seed 0] [--stop-at-eos] [--max-chunk 512]\n"
        "  [--no-counters] [--quiet] [--out FILE.json]");
    return 0;
  }
  const std::string workload = a.get("workload", "latency");
  if (workload != "latency") throw Error("unknown workload '" + workload + "' (available: latency)");

  const RunContext ctx = make_run_context(argc, argv);
  const int threads = int(a.get_int("threads", 0));
  if (threads < 0) throw Error("--threads must be >= 0");
  if (threads > 0) omp_set_num_threads(threads);
  const nlohmann::json pinning = apply_thread_pinning(parse_pin_policy(a.get("pin", "none")), omp_get_max_threads());

  LoadOptions lo;
  lo.path = a.require("model");
  lo.backend = a.get("backend", "auto");
  lo.device = a.get("device", "cpu");
  lo.threads = threads;
  lo.max_chunk = a.get_int("max-chunk", 512);
  if (!a.flag("quiet")) std::fprintf(stderr, "qbench: loading %s\n", lo.path.c_str());
  auto engine = load_engine(lo);

  LatencyParams p;
  p.prompt_tokens = a.get_int("prompt-tokens", 512);
  p.gen_tokens = a.get_int("gen-tokens", 256);
  p.reps = int(a.get_int("reps", 3));
  p.warmup = int(a.get_int("warmup", 1));
  p.kv_type = parse_kv_type(a.get("kv-type", "f16"));
  p.stop_at_eos = a.flag("stop-at-eos");
  p.sampling.temperature = float(a.get_double("temperature", 0.0));
  p.sampling.top_p = float(a.get_double("top-p", 1.0));
  p.sampling.seed = uint64_t(a.get_int("seed", 0));
  p.counters = !a.flag("no-counters");
  p.progress = !a.flag("quiet");
  const LatencyResult res = run_latency(*engine, p);

  const nlohmann::json runtime = {{"threads", omp_get_max_threads()}, {"pinning", pinning}, {"device", lo.device},
                                  {"max_chunk", lo.max_chunk}};
  const nlohmann::json result = make_result(ctx, collect_system_info(), engine->describe(), runtime, res.to_json());
  std::cout << format_latency_summary(result);
  if (a.has("out")) {
    write_json_atomic(a.get("out"), result);
    std::fprintf(stderr, "qbench: wrote %s\n", a.get("out").c_str());
  }
  return 0;
}

}  // namespace qbench::cli
