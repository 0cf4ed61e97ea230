#!/usr/bin/env bash
# End-to-end through the qbench binary, as the README uses it: synthetic model,
# latency run with a result file, logits as .npy, tokenize from stdin, and a
# corrupt model that must fail cleanly without leaving a result file.
set -euo pipefail
QB=$1
SRC=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

TOKARGS=()
[ -s "$SRC/third_party/qwen2.5-tokenizer/tokenizer.json" ] || TOKARGS=(--no-tokenizer)
"$QB" fixture --shape tiny --out "$T/tiny" --seed 3 "${TOKARGS[@]}"
[ -f "$T/tiny/config.json" ] && [ -f "$T/tiny/model.safetensors" ] || fail "fixture files missing"

"$QB" run --model "$T/tiny" --workload latency --prompt-tokens 40 --gen-tokens 6 --reps 2 --warmup 1 \
  --threads 2 --out "$T/r/lat.json" > "$T/summary.txt"
grep -q "TTFT" "$T/summary.txt" || fail "no TTFT in the terminal summary"
python3 - "$T/r/lat.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["schema"] == "qbench.result" and r["schema_version"] == 1
w = r["workload"]
assert w["workload"] == "latency"
assert w["params"]["prompt_tokens"] == 40 and w["params"]["gen_tokens"] == 6
assert len(w["runs"]) == 2 and all(run["generated"] == 6 for run in w["runs"])
for k in ("ttft_ms", "tpot_ms", "itl_ms", "decode_tokens_per_s", "prefill_tokens_per_s"):
    s = w["summary"][k]
    assert s["p50"] > 0 and s["p99"] >= s["p50"], k
assert w["memory"]["engine_peak"]["weights"] > 0 and w["memory"]["engine_peak"]["kv_cache"] > 0
assert r["model"]["backend"] == "fp16" and r["model"]["file_bytes"] > 0
assert r["context"]["git_revision"] and "--prompt-tokens" in r["context"]["command_line"]
assert r["system"]["cpu"]["cores"] >= 1
PY

"$QB" run --model "$T/tiny" --workload throughput --requests 6 --sweep concurrency=1,3 --prompt-tokens uniform:8:24 \
  --gen-tokens 4 --max-batched-tokens 32 --quiet --out "$T/r/tp.json" > /dev/null
python3 - "$T/r/tp.json" <<'PY'
import json, sys
w = json.load(open(sys.argv[1]))["workload"]
assert w["workload"] == "throughput" and [p["concurrency"] for p in w["points"]] == [1, 3]
for p in w["points"]:
    s = p["summary"]
    assert s["request_throughput_per_s"] > 0 and s["output_tokens_per_s"] > 0
    assert len(p["requests"]) == 6 and all(r["gen_tokens"] == 4 for r in p["requests"])
    assert s["ttft_ms"]["p99"] >= s["ttft_ms"]["p50"] > 0 and s["e2e_ms"]["p50"] >= s["ttft_ms"]["p50"]
    assert p["kv_usage"] and max(k["used_blocks"] for k in p["kv_usage"]) > 0
PY

"$QB" logits --model "$T/tiny" --tokens 1,2,3 --out "$T/l.npy"
python3 - "$T/l.npy" <<'PY'
import sys, struct
b = open(sys.argv[1], "rb").read()
assert b[:6] == b"\x93NUMPY"
hl = struct.unpack("<H", b[8:10])[0]
hdr = b[10:10 + hl].decode()
assert "'shape': (3, 151936)" in hdr and "<f4" in hdr, hdr
assert len(b) == 10 + hl + 3 * 151936 * 4
PY

if [ ${#TOKARGS[@]} -eq 0 ]; then
  ids=$(printf 'Hello world\n' | "$QB" tokenize --model "$T/tiny" --json)
  [ "$ids" = "[9707,1879,198]" ] || fail "tokenize gave $ids"
fi

# A truncated checkpoint: a clear error naming the file, exit 1, no result file.
head -c 1000 "$T/tiny/model.safetensors" > "$T/trunc.safetensors" && mv "$T/trunc.safetensors" "$T/tiny/model.safetensors"
set +e
"$QB" run --model "$T/tiny" --prompt-tokens 8 --gen-tokens 2 --out "$T/r/bad.json" 2> "$T/err.txt"
rc=$?
set -e
[ $rc -eq 1 ] || fail "corrupt model exited $rc"
grep -q "model.safetensors" "$T/err.txt" || fail "error does not name the file: $(cat "$T/err.txt")"
[ ! -e "$T/r/bad.json" ] || fail "a result file was written for a failed run"
echo "cli smoke: ok"
