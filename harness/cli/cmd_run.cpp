// qbench run: load a model, run a workload, print a summary, write the result file.
#include <omp.h>

#include <cstdio>
#include <iostream>
#include <sstream>

#include "engines/core/error.h"
#include "engines/registry/registry.h"
#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "harness/measure/atomic_file.h"
#include "harness/measure/result_envelope.h"
#include "harness/measure/thread_pinning.h"
#include "reports/latency_summary.h"
#include "reports/throughput_summary.h"
#include "workloads/latency.h"
#include "workloads/throughput.h"

namespace qbench::cli {

namespace {

const char* kHelp =
    "qbench run --model PATH [--backend auto|fp16|bf16|gguf|...] [--device cpu] [--threads N] [--pin none|compact|scatter]\n"
    "           [--kv-type f16|f32] [--temperature 0] [--top-p 1] [--seed 0] [--quiet] [--out FILE.json]\n"
    "  --workload latency (default): [--prompt-tokens 512] [--gen-tokens 256] [--reps 3] [--warmup 1]\n"
    "           [--stop-at-eos] [--max-chunk 512] [--no-counters]\n"
    "  --workload throughput: --requests N (--concurrency C | --rate R | --sweep concurrency=1,2,4 | --sweep rate=0.5,1)\n"
    "           [--prompt-tokens 512|uniform:LO:HI|normal:MEAN:STD] [--gen-tokens 256|...] [--max-num-seqs 64]\n"
    "           [--max-batched-tokens 2048] [--prefill-chunk 512] [--kv-tokens N] [--kv-block 16]\n"
    "           [--requests-per-concurrency K: a point at concurrency C runs min(N, K*C) requests] [--util-period-ms 50]";

template <class T>
std::vector<T> parse_list(const std::string& s, const char* what) {
  std::vector<T> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) {
    std::istringstream is(item);
    T v;
    if (!(is >> v) || !is.eof()) throw Error(std::string(what) + ": '" + item + "' is not a number");
    out.push_back(v);
  }
  if (out.empty()) throw Error(std::string(what) + " needs at least one value");
  return out;
}

}  // namespace

int cmd_run(int argc, char** argv) {
  Args a(argc, argv, 2,
         {"model", "backend", "device", "workload", "prompt-tokens", "gen-tokens", "reps", "warmup", "threads", "pin",
          "kv-type", "out", "temperature", "top-p", "seed", "max-chunk", "requests", "concurrency", "rate", "sweep",
          "max-num-seqs", "max-batched-tokens", "prefill-chunk", "kv-tokens", "kv-block", "requests-per-concurrency",
          "util-period-ms"},
         {"stop-at-eos", "no-counters", "quiet", "help"});
  if (a.flag("help")) {
    std::puts(kHelp);
    return 0;
  }
  const std::string workload = a.get("workload", "latency");
  if (workload != "latency" && workload != "throughput")
    throw Error("unknown workload '" + workload + "' (run: latency, throughput; accuracy: qbench eval)");

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
  const KvType kv_type = parse_kv_type(a.get("kv-type", "f16"));
  SamplerParams sampling;
  sampling.temperature = float(a.get_double("temperature", 0.0));
  sampling.top_p = float(a.get_double("top-p", 1.0));
  sampling.seed = uint64_t(a.get_int("seed", 0));

  if (!a.flag("quiet")) std::fprintf(stderr, "qbench: loading %s\n", lo.path.c_str());
  auto engine = load_engine(lo);
  const nlohmann::json runtime = {{"threads", omp_get_max_threads()}, {"pinning", pinning}, {"device", lo.device},
                                  {"max_chunk", lo.max_chunk}};
  nlohmann::json result;
  if (workload == "latency") {
    LatencyParams p;
    p.prompt_tokens = a.get_int("prompt-tokens", 512);
    p.gen_tokens = a.get_int("gen-tokens", 256);
    p.reps = int(a.get_int("reps", 3));
    p.warmup = int(a.get_int("warmup", 1));
    p.kv_type = kv_type;
    p.stop_at_eos = a.flag("stop-at-eos");
    p.sampling = sampling;
    p.counters = !a.flag("no-counters");
    p.progress = !a.flag("quiet");
    const LatencyResult res = run_latency(*engine, p);
    result = make_result(ctx, collect_system_info(), engine->describe(), runtime, res.to_json());
    std::cout << format_latency_summary(result) << std::flush;
  } else {
    ThroughputParams p;
    p.requests = a.get_int("requests", 100);
    p.requests_per_concurrency = a.get_int("requests-per-concurrency", 0);
    p.util_period_ms = a.get_double("util-period-ms", 50);
    if (p.requests_per_concurrency < 0 || !(p.util_period_ms > 0))
      throw Error("--requests-per-concurrency must be >= 0 and --util-period-ms > 0");
    p.prompt_tokens = LengthDist::parse(a.get("prompt-tokens", "512"));
    p.gen_tokens = LengthDist::parse(a.get("gen-tokens", "256"));
    p.limits.max_num_seqs = a.get_int("max-num-seqs", 64);
    p.limits.max_batched_tokens = a.get_int("max-batched-tokens", 2048);
    p.limits.prefill_chunk = a.get_int("prefill-chunk", 512);
    p.kv_tokens = a.get_int("kv-tokens", 0);
    p.kv_block_tokens = a.get_int("kv-block", KvBlockPool::kDefaultBlockTokens);
    p.kv_type = kv_type;
    p.sampling = sampling;
    p.seed = sampling.seed;
    p.progress = !a.flag("quiet");
    if (a.has("concurrency")) p.concurrency = parse_list<int64_t>(a.get("concurrency"), "--concurrency");
    if (a.has("rate")) p.rate = parse_list<double>(a.get("rate"), "--rate");
    if (a.has("sweep")) {
      const std::string s = a.get("sweep");
      const auto eq = s.find('=');
      const std::string key = s.substr(0, eq);
      if (eq == std::string::npos || (key != "concurrency" && key != "rate"))
        throw Error("--sweep takes concurrency=1,2,4 or rate=0.5,1,2");
      if (key == "concurrency") p.concurrency = parse_list<int64_t>(s.substr(eq + 1), "--sweep concurrency");
      else p.rate = parse_list<double>(s.substr(eq + 1), "--sweep rate");
    }
    result = make_result(ctx, collect_system_info(), engine->describe(), runtime, run_throughput(*engine, p));
    std::cout << format_throughput_summary(result) << std::flush;
  }
  if (a.has("out")) {
    write_json_atomic(a.get("out"), result);
    std::fprintf(stderr, "qbench: wrote %s\n", a.get("out").c_str());
  }
  return 0;
}

}  // namespace qbench::cli
