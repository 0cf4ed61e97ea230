#!/usr/bin/env bash
# The embedded default: a synthetic Qwen2.5-0.5B-shaped FP16 model (random
# weights, real tokenizer; no download) and the standard latency workload on it
# (prompt 512, generate 256, batch 1). Result: results/demo-latency.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
QB=${BUILD_DIR:-build}/harness/qbench
MODEL=models/synthetic-qwen2.5-0.5b
[ -f "$MODEL/config.json" ] || "$QB" fixture --shape qwen2.5-0.5b --out "$MODEL" --seed 1
"$QB" run --model "$MODEL" --workload latency --prompt-tokens 512 --gen-tokens 256 --reps 3 --warmup 1 \
  --out results/demo-latency.json "$@"
