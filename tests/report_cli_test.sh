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

# Charts (gnuplot is installed by scripts/setup.sh) and the HTML page.
if command -v gnuplot >/dev/null 2>&1; then
  "$QB" report "$D/quant-table" --out "$T/c" --png-size 640x400 --prices "$SRC/prices/example.json" > /dev/null
  for c in pareto memory ttft tpot; do
    python3 - "$T/c/charts/$c.png" <<'PY' || fail "chart $c.png"
import struct, sys
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR"
assert struct.unpack(">II", b[16:24]) == (640, 400), struct.unpack(">II", b[16:24])
PY
    grep -q "<figure id=\"chart-$c\">" "$T/c/index.html" || fail "index.html lacks chart $c"
  done
  [ -s "$T/c/cost.md" ] || fail "no cost.md with --prices"
  python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$T/c/index.html" || fail "index.html is not well-formed"
  # Headless Chromium renders the page: the screenshot must not be blank.
  CHROME=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
  if [ -n "$CHROME" ]; then
    timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,2400 \
      --screenshot="$T/shot.png" "file://$T/c/index.html" > /dev/null 2>&1 || fail "chromium could not render index.html"
    python3 - "$T/shot.png" <<'PY' || fail "chromium screenshot is blank"
import struct, sys, zlib
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n"
i, idat = 8, b""
while i < len(b):
    n, t = struct.unpack(">I4s", b[i:i + 8])
    if t == b"IDAT": idat += b[i + 8:i + 8 + n]
    i += 12 + n
raw = zlib.decompress(idat)
# A blank page is one colour: filtered rows are all 0x00 (or 0xff); tables and charts are not.
ink = sum(1 for x in raw if x not in (0, 255)) / len(raw)
assert ink > 0.005, ink
print("screenshot ink fraction %.3f" % ink)
PY
  elif [ "${CI:-}" = "true" ]; then
    fail "chromium is not installed (scripts/setup.sh installs it when CI=true)"
  else
    echo "SKIP: chromium not installed (QBENCH_INSTALL_CHROMIUM=1 bash scripts/setup.sh installs it): HTML render check skipped"
  fi
else
  [ "${CI:-}" = "true" ] && fail "gnuplot not installed"
  "$QB" report "$D/quant-table" --out "$T/c" 2> "$T/err.txt" > /dev/null || fail "report without gnuplot should still succeed"
  grep -q "gnuplot not found" "$T/err.txt" || fail "missing gnuplot should be named"
fi
# A gnuplot that does not exist: tables still written, a clear warning, exit 0.
"$QB" report "$D/quant-table" --out "$T/g" --gnuplot /nonexistent/gnuplot 2> "$T/err2.txt" > /dev/null || fail "report should succeed without gnuplot"
grep -q "gnuplot not found" "$T/err2.txt" || fail "missing gnuplot should be named"
[ -s "$T/g/tradeoff.md" ] && [ -s "$T/g/index.html" ] || fail "tables/html missing without gnuplot"
echo "report cli: ok"
