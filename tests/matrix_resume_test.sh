#!/usr/bin/env bash
# qbench matrix: a failing cell is recorded and the matrix goes on; a matrix
# killed mid-run is finished by --resume without redoing finished cells; no
# result file is ever half-written; a second run without --resume refuses.
set -euo pipefail
QB=$1
T=$(mktemp -d)
MPID=""
trap '[ -n "$MPID" ] && kill -9 "$MPID" 2>/dev/null; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$QB" fixture --shape tiny --out "$T/tiny" --seed 1 --no-tokenizer >/dev/null 2>&1
cat > "$T/spec.json" <<JSON
{ "name": "resume-test", "output_dir": "$T/out", "threads": 1,
  "models": [{"name": "tiny", "path": "$T/tiny"}, {"name": "broken", "path": "$T/no-such-model"}],
  "backends": ["fp16"],
  "workloads": [
    {"name": "a", "workload": "latency", "params": {"prompt-tokens": 16, "gen-tokens": 4, "reps": 1, "warmup": 0}},
    {"name": "b", "workload": "latency", "params": {"prompt-tokens": 20, "gen-tokens": 4, "reps": 1, "warmup": 0}},
    {"name": "c", "workload": "latency", "params": {"prompt-tokens": 24, "gen-tokens": 4, "reps": 1, "warmup": 0}},
    {"name": "d", "workload": "latency", "params": {"prompt-tokens": 28, "gen-tokens": 4, "reps": 1, "warmup": 0}}] }
JSON
[ "$("$QB" matrix run "$T/spec.json" --list | wc -l)" -eq 8 ] || fail "--list should show 8 cells"

# Bad specs fail before running anything, naming the file and the field.
bad() {  # bad NAME JSON EXPECTED_MESSAGE
  echo "$2" > "$T/$1.json"
  if "$QB" matrix run "$T/$1.json" > "$T/$1.out" 2>&1; then fail "spec $1 should be rejected"; fi
  grep -qF "$3" "$T/$1.out" || { cat "$T/$1.out"; fail "spec $1: expected message '$3'"; }
}
bad unknown '{"name":"x","output_dir":"o","models":[{"name":"m","path":"p"}],"backends":["fp16"],"workloads":[{"workload":"latency"}],"colour":1}' 'unknown field "colour"'
bad nomodels '{"name":"x","output_dir":"o","models":[],"backends":["fp16"],"workloads":[{"workload":"latency"}]}' '"models" must be a non-empty list'
bad envvar '{"name":"x","output_dir":"${QBENCH_TEST_UNSET_VAR}","models":[{"name":"m","path":"p"}],"backends":["fp16"],"workloads":[{"workload":"latency"}]}' 'QBENCH_TEST_UNSET_VAR is not set'
bad reps '{"name":"x","output_dir":"o","repetitions":0,"models":[{"name":"m","path":"p"}],"backends":["fp16"],"workloads":[{"workload":"latency"}]}' '"repetitions" must be an integer'
bad outparam '{"name":"x","output_dir":"o","models":[{"name":"m","path":"p"}],"backends":["fp16"],"workloads":[{"workload":"latency","params":{"out":"x"}}]}' '"out" is set by the matrix'
bad badname '{"name":"x","output_dir":"o","models":[{"name":"../m","path":"p"}],"backends":["fp16"],"workloads":[{"workload":"latency"}]}' "name '../m' may hold only"
bad notjson '{"name": ' 'not valid JSON'

# Interrupt: kill the matrix (SIGKILL, no clean-up possible) once two cells have results.
"$QB" matrix run "$T/spec.json" --quiet --no-report > /dev/null 2>&1 &
MPID=$!
for _ in $(seq 1 600); do
  n=$(ls "$T/out/cells/"tiny__*.json 2>/dev/null | grep -vc error.json || true)
  [ "$n" -ge 2 ] && break
  kill -0 "$MPID" 2>/dev/null || break
  sleep 0.1
done
kill -9 "$MPID" 2>/dev/null || true
wait "$MPID" 2>/dev/null || true
MPID=""
done_before=$(ls "$T/out/cells/" | grep -v error.json | grep -c '^tiny' || true)
[ "$done_before" -ge 1 ] && [ "$done_before" -lt 4 ] || fail "expected an interrupted matrix, found $done_before of 4 results"
# Every file present is a complete result.
for f in "$T"/out/cells/*.json; do python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$f" || fail "half-written $f"; done
stat -c '%n %i %Y' "$T"/out/cells/tiny__*.json | grep -v error > "$T/before.txt"

# Without --resume the matrix refuses to touch existing results.
if "$QB" matrix run "$T/spec.json" --quiet --no-report > "$T/refuse.txt" 2>&1; then fail "re-run without --resume should refuse"; fi
grep -q -- "--resume" "$T/refuse.txt" || fail "refusal should name --resume"

# --resume finishes it: exit 1 because the broken model's cells fail (recorded, not fatal).
set +e
"$QB" matrix run "$T/spec.json" --resume --no-charts > "$T/resume.out" 2> "$T/resume.err"
rc=$?
set -e
[ "$rc" -eq 1 ] || { cat "$T/resume.err"; fail "resume should exit 1 (failed cells), got $rc"; }
grep -q "already have results" "$T/resume.err" || fail "resume should say what it skips"
for w in a b c d; do
  python3 - "$T/out/cells/tiny__fp16__cpu__$w.json" "$w" <<'PY' || fail "cell $w result"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["schema"] == "qbench.result"
assert r["matrix"]["workload"] == sys.argv[2] and r["matrix"]["model"] == "tiny"
PY
  [ -f "$T/out/cells/broken__fp16__cpu__$w.error.json" ] || fail "no error file for broken/$w"
done
grep -q "no-such-model" "$T/out/cells/broken__fp16__cpu__a.error.json" || fail "error file should carry the child's message"
# Finished cells were not redone: same inode and mtime.
stat -c '%n %i %Y' "$T"/out/cells/tiny__*.json | grep -v error | grep -F -f "$T/before.txt" | wc -l | grep -qx "$(wc -l < "$T/before.txt")" \
  || fail "resume redid finished cells"
# The report covers all four tiny cells.
[ "$(grep -c '^| tiny | fp16 |' "$T/out/report/tradeoff.md")" -eq 4 ] || fail "report should have 4 rows"
[ ! -e "$T/out/cells/tiny__fp16__cpu__a.json.tmp" ] || fail "temporary file left behind"
echo "matrix resume: ok ($done_before of 4 done before the kill)"
