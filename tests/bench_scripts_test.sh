#!/usr/bin/env bash
# The device scripts in bench/ (run only on the GPU machine) at least parse, and bench/cuda_step_ab.sh keeps its
# command-line contract: bad arguments exit 2 with a reason, variants alternate in the order given (DRY_RUN=1
# prints the commands instead of running them; fake executables stand in for the build).
set -uo pipefail
ROOT=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
for f in "$ROOT"/bench/*.sh "$ROOT"/scripts/*.sh; do
  bash -n "$f" || fail "$f does not parse"
done
AB=$ROOT/bench/cuda_step_ab.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bench" "$tmp/harness"
printf '#!/bin/sh\nexit 0\n' > "$tmp/bench/bench_cuda_decode"
cp "$tmp/bench/bench_cuda_decode" "$tmp/harness/qbench"
chmod +x "$tmp/bench/bench_cuda_decode" "$tmp/harness/qbench"
expect_2() {
  local why=$1; shift
  BUILD=$tmp bash "$AB" "$@" > /dev/null 2> "$tmp/err"; rc=$?
  [ $rc -eq 2 ] || fail "$why: exit $rc, expected 2"
  [ -s "$tmp/err" ] || fail "$why: no reason on stderr"
}
expect_2 "no arguments"
expect_2 "unknown format" gptq 1 "a:"
expect_2 "bad repetition count" gptq-int4 0 "a:"
expect_2 "variant without a label" gptq-int4 1 "QBENCH_X=1"
expect_2 "word that is no VAR=VALUE" gptq-int4 1 "a:QBENCH_X"
out=$(cd "$ROOT" && BUILD=$tmp DRY_RUN=1 bash "$AB" gguf-q8_0 2 "base:" "off:QBENCH_A=0 QBENCH_B=1" 2>/dev/null)
[ "$(grep -c 'bench_cuda_decode' <<< "$out")" -eq 4 ] || fail "2 alternations of 2 variants should be 4 runs: $out"
order=$(grep -o 'env[^/]*' <<< "$out" | tr -s ' ' | sed 's/ $//' | paste -sd '|')
[ "$order" = "env|env QBENCH_A=0 QBENCH_B=1|env|env QBENCH_A=0 QBENCH_B=1" ] || fail "alternation order: $order"
grep -q -- '--model /tmp/qwen2.5-7b-gguf-q8_0.gguf' <<< "$out" || fail "GGUF model path: $out"
echo "bench scripts: ok"
