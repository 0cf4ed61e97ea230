#!/bin/bash
# Builds and runs the GGUF reader fuzzer for a bounded time (CI: when clang is available).
# usage: tests/fuzz/run_gguf_fuzz.sh [seconds=60] [build-dir=build-fuzz]
set -euo pipefail
secs=${1:-60}
bdir=${2:-build-fuzz}
root=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v clang++ >/dev/null; then echo "clang++ not found: skipping the GGUF fuzzer"; exit 0; fi
cmake -S "$root" -B "$root/$bdir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQBENCH_CUDA=OFF \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang >/dev/null
ninja -C "$root/$bdir" gguf_reader_fuzz
corpus="$root/$bdir/gguf-corpus"
mkdir -p "$corpus"
# Seed with the fixture files' headers when ../shared is there (the fuzzer mutates from valid files).
for f in "$root"/../shared/fixtures/tiny-qwen2/gguf/*.gguf; do
  [ -e "$f" ] && head -c 65536 "$f" > "$corpus/$(basename "$f").head"
done
"$root/$bdir/tests/gguf_reader_fuzz" -max_total_time="$secs" -max_len=262144 -rss_limit_mb=2048 "$corpus"
