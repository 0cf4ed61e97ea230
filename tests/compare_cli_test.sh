#!/usr/bin/env bash
# qbench compare exit codes: 0 pass, 1 regression, 2 bad input; the Markdown table goes to stdout.
set -uo pipefail
QB=$1
D=$2/tests/data/results
fail() { echo "FAIL: $*" >&2; exit 1; }
"$QB" compare "$D/baseline" "$D/baseline" > /tmp/qbench_cmp_$$.md; rc=$?
[ $rc -eq 0 ] || fail "identical runs should pass, rc=$rc"
grep -q "PASS" /tmp/qbench_cmp_$$.md || fail "no PASS line"
"$QB" compare "$D/baseline" "$D/current" > /tmp/qbench_cmp_$$.md; rc=$?
[ $rc -eq 1 ] || fail "regression should exit 1, rc=$rc"
grep -q "REGRESSION" /tmp/qbench_cmp_$$.md || fail "no REGRESSION row"
"$QB" compare "$D/baseline" "$D/current" --threshold ttft_ms=40 --threshold prefill_tokens_per_s=40 > /dev/null; rc=$?
[ $rc -eq 0 ] || fail "loosened thresholds should pass, rc=$rc"
"$QB" compare "$D/baseline" "$D/current" --threshold ttft_ms=40 --threshold prefill_tokens_per_s=40 --fail-on-missing > /dev/null; rc=$?
[ $rc -eq 1 ] || fail "--fail-on-missing with a missing cell should exit 1, rc=$rc"
"$QB" compare "$D/baseline" "$D/no-such-dir" > /dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "missing input should exit 2, rc=$rc"
"$QB" compare "$D/baseline" "$D/current" --threshold bogus=5 > /dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "unknown metric should exit 2, rc=$rc"
rm -f /tmp/qbench_cmp_$$.md
echo "compare cli: ok"
