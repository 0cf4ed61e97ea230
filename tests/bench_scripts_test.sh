#!/usr/bin/env bash
# The device scripts in bench/ (run only on the GPU machine) at least parse, and bench/cuda_step_ab.sh keeps its
# command-line contract: bad arguments exit 2 with a reason, variants alternate in the order given (DRY_RUN=1
# prints the commands instead of running them; fake executables stand in for the build), and
# bench/kernel_trace_summary.py gives the exclusive times, gaps and step spans of a known synthetic timeline.
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
# bench/kernel_trace_summary.py on a known timeline: steps of 3 kernels alternating between two graphs of the same
# shape (one per staging half), 10 us apart; kernel B starts 1 us before A ends (PDL overlap), C 2 us after B ends.
python3 - "$tmp/trace.csv" <<'PY' || fail "writing the synthetic trace"
import sys
with open(sys.argv[1], "w") as f:
    f.write("start_ns,end_ns,graph_id,node_id,grid_x,grid_y,grid_z,block_x,name\n")
    f.write('0,500,0,0,1,1,1,32,"void prefill()"\n')
    t = 1000
    for step in range(8):
        g = 2 + step % 2
        for node, (off, dur, name) in enumerate([(0, 5000, "void qbench::cuda::a<4, true>(int)"),
                                                  (4000, 3000, "void b(int)"), (9000, 1000, "void c()")]):
            f.write(f'{t + off},{t + off + dur},{g},{10 * g + node},7,1,1,128,"{name}"\n')
        t += 10000 + 10000
PY
sum=$(python3 "$ROOT/bench/kernel_trace_summary.py" "$tmp/trace.csv" --skip 2 --timeline 0:2) || fail "trace summary failed"
grep -q "3 kernels per step, 6 steps analysed" <<< "$sum" || fail "trace summary step count: $sum"
grep -q "step span (first kernel's start to last kernel's end): median 10.0 us" <<< "$sum" || fail "trace span: $sum"
grep -q "between steps (last kernel's end to the next step's first start): median 10.0 us" <<< "$sum" || fail "between: $sum"
grep -q "idle (no kernel running) per step: median 2.0 us" <<< "$sum" || fail "idle: $sum"
grep -Eq '^a<4, true> \[7x1x1, 128\] +1 +5\.00 +5\.0 +5\.0 ' <<< "$sum" || fail "kernel a's exclusive time: $sum"
grep -Eq '^b \[7x1x1, 128\] +1 +3\.00 +3\.0 +2\.0 ' <<< "$sum" || fail "kernel b's exclusive time: $sum"
grep -Eq '^c \[7x1x1, 128\] +1 +1\.00 +1\.0 +1\.0 .* 2\.0$' <<< "$sum" || fail "kernel c, idle before it: $sum"
echo "bench scripts: ok"
