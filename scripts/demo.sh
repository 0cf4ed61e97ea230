#!/usr/bin/env bash
# The README's main job on the embedded default: a synthetic Qwen2.5-0.5B-shaped
# model (random weights, real shapes and tokenizer; nothing downloaded) in every
# backend qbench has, the standard latency workload (prompt 512, generate 256,
# batch 1) on each, and the trade-off report: results/demo/report/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
QB=${BUILD_DIR:-build}/harness/qbench
M=${QBENCH_DEMO_MODELS:-results/demo-models}
export QBENCH_DEMO_MODELS=$M
mkdir -p "$M"

[ -f "$M/fp16/config.json" ] || "$QB" fixture --shape qwen2.5-0.5b --out "$M/fp16" --seed 1
for t in q8_0 q5_k_s q4_k_m; do
  [ -f "$M/$t.gguf" ] || "$QB" quantize --model "$M/fp16" --to gguf --type "$t" --out "$M/$t.gguf"
done
# GPTQ/AWQ: the in-tree quantizers need minutes per model on two cores, so the demo writes random
# 4-bit codes in the exact AutoGPTQ / AutoAWQ layouts (same bytes and kernels, so the same speed and
# memory). For real checkpoints: qbench quantize --model DIR --to gptq|awq --out DIR.
for f in gptq-int4 awq-int4; do
  [ -f "$M/$f/config.json" ] || "$QB" fixture --shape qwen2.5-0.5b --format "$f" --out "$M/$f" --seed 1
done

"$QB" matrix run specs/demo.json --force "$@"
echo
cat "${QBENCH_RESULTS:-results}/demo/report/tradeoff.md"
echo
echo "report: ${QBENCH_RESULTS:-results}/demo/report/index.html (tables, charts, cost)"
