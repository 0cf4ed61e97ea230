#!/usr/bin/env bash
# qbench report end to end on the golden results: tables, charts (gnuplot; PNG
# size from the header), the self-contained HTML page, and a missing gnuplot.
set -euo pipefail
QB=$1
SRC=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
D=$SRC/tests/data/results

"$QB" report "$D/quant-table" --out "$T/r" > "$T/stdout.md"
for f in tradeoff.md tradeoff.csv tradeoff.json report.md; do [ -s "$T/r/$f" ] || fail "missing $f"; done
cmp -s "$T/r/tradeoff.md" "$D/expected/tradeoff.md" || fail "tradeoff.md differs from the golden file"
cmp -s "$T/r/tradeoff.csv" "$D/expected/tradeoff.csv" || fail "tradeoff.csv differs from the golden file"
"$QB" report "$D/quant-table" --out "$T/zh" --lang zh --no-charts > /dev/null
cmp -s "$T/zh/tradeoff.md" "$D/expected/tradeoff.zh.md" || fail "--lang zh table differs from the golden file"
if "$QB" report "$D/quant-table" --out "$T/x" --lang fr > /dev/null 2>&1; then fail "--lang fr should fail"; fi
if "$QB" report "$T/none.json" --out "$T/x" > /dev/null 2>&1; then fail "missing input should fail"; fi
echo "report cli: ok"
