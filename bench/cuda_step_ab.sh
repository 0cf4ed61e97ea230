#!/usr/bin/env bash
# Same-run A/B of decode-step variants on the GPU machine: every variant is a set of start-up switches (environment
# variables); the variants alternate REPS times on one Qwen2.5-7B-shaped model so that machine drift hits them all
# alike (lent GPUs differ by up to ~10 % from one to the next: only comparisons within one run judge a change).
# Builds with bench/cuda_device_run.sh when the build is missing, generates the model on first use.
#
# usage (repo root, on the GPU machine):
#   bash bench/cuda_step_ab.sh FORMAT REPS "LABEL:VAR=VALUE VAR=VALUE" ["LABEL:..." ...]
#   FORMAT: fp16, gptq-int4, awq-int4, gguf-q4_k_m, gguf-q5_k_s, gguf-q8_0
#   e.g.    bash bench/cuda_step_ab.sh gptq-int4 2 "default:" "one chain:QBENCH_INT4_CHAINS=1"
# Prints per variant and repetition: median ms per step, p10, p90, launches per step (bench_cuda_decode, prompt 512,
# 131 graph-replayed steps). DRY_RUN=1 prints the commands instead of running them.
set -uo pipefail
if [ $# -lt 3 ]; then
  sed -n '2,13p' "$0" >&2
  exit 2
fi
FORMAT=$1
REPS=$2
shift 2
case $FORMAT in
  fp16 | gptq-int4 | awq-int4 | gguf-q4_k_m | gguf-q5_k_s | gguf-q8_0) ;;
  *) echo "cuda_step_ab: unknown format '$FORMAT'" >&2; exit 2 ;;
esac
if ! [[ $REPS =~ ^[1-9][0-9]*$ ]]; then
  echo "cuda_step_ab: REPS must be a positive integer, not '$REPS'" >&2
  exit 2
fi
for v in "$@"; do
  if [[ $v != *:* ]]; then
    echo "cuda_step_ab: variant '$v' has no 'LABEL:' prefix" >&2
    exit 2
  fi
  for kv in ${v#*:}; do
    if ! [[ $kv =~ ^[A-Z_][A-Z0-9_]*=[^[:space:]]*$ ]]; then
      echo "cuda_step_ab: '$kv' in variant '${v%%:*}' is not VAR=VALUE" >&2
      exit 2
    fi
  done
done
BUILD=${BUILD:-$(pwd)/build-device}
# shellcheck source=bench/qwen7b_models.sh
source "$(dirname "$0")/qwen7b_models.sh"
MODEL=$(qwen7b_model "$FORMAT")
run() { if [ "${DRY_RUN:-0}" = 1 ]; then echo "+ $*" >&2; else "$@"; fi; }

if [ ! -x "$BUILD/bench/bench_cuda_decode" ] || [ ! -x "$BUILD/harness/qbench" ]; then
  run bash bench/cuda_device_run.sh "${OUT:-/tmp/qbench-cuda}" build || exit 1
fi
run ensure_model "$FORMAT" "$MODEL" >&2 || { echo "cuda_step_ab: generating $FORMAT failed" >&2; exit 1; }
echo "== $(date +%T) $FORMAT, $REPS alternation(s): median p10 p90 ms, launches per step"
for ((r = 1; r <= REPS; ++r)); do
  for v in "$@"; do
    label=${v%%:*}
    if [ "${DRY_RUN:-0}" = 1 ]; then
      echo "+ env ${v#*:} $BUILD/bench/bench_cuda_decode --model $MODEL --prompt 512 --steps 131"
      continue
    fi
    # shellcheck disable=SC2086  # the variant's VAR=VALUE words, split on purpose
    line=$(env ${v#*:} timeout 180 "$BUILD/bench/bench_cuda_decode" --model "$MODEL" --prompt 512 --steps 131 2>&1 |
      awk '/^on /{print $2, $3, $4, $5}')
    printf '%-24s rep %d: %s\n' "$label" "$r" "${line:-FAILED}"
  done
done
