#!/usr/bin/env bash
# The CUDA backend on the device machine, end to end: build (Ninja, sm_90),
# the [cuda] tests (+ compute-sanitizer on the kernel tests), the device's
# roofline (read / copy bandwidth, FP16 GEMM), then a Qwen2.5-7B-shaped FP16
# checkpoint generated there and the seed table's latency workload on it.
#
# usage (repo root, on the GPU machine): bash bench/cuda_device_run.sh [OUT_DIR] [steps]
#   steps: any of build,tests,sanitize,roofline,stream,gemmalgos,gemv,bench7b,bench7b-nographs,decode,profile,formats,
#   int4prof,trace,cpubench,throughput,longprompt,repeat,initcheck (default: all but stream, gemmalgos, int4prof,
#   trace, cpubench, throughput, longprompt, repeat and initcheck)
#   int4prof: the GPTQ 7B decode step taken apart: GPU time per kernel, Nsight Compute's full set on one layer's
#   four int4 GEMVs (q/k/v, o, gate/up, down) and the int4 GEMV's SASS (docs/cuda.md, int4 decode speed).
#   trace: where a graph-replayed 7B decode step's time goes, kernel by kernel with their overlaps, for each of
#   TRACE_FORMATS (default gptq-int4,gguf-q8_0): the latency workload under bench/cuda_kernel_trace.cpp (CUPTI), its
#   decode rate untraced and traced, bench/kernel_trace_summary.py's table and one layer's timeline (trace-FORMAT.txt).
#   longprompt: the FP16 latency workload at prompts 512 and 4096 (generate 32), flash attention on and off.
#   initcheck: compute-sanitizer initcheck on the int4 prefill and pipelined greedy fixture tests alone, CUDA graphs
#   on and off, reads of unwritten memory counted per kernel (not in the default steps: ~5 minutes).
#   repeat: the whole [cuda] suite REPEAT times (default 5) under each of REPEAT_ENVS (';'-separated sets of
#   start-up switches, '-' for none; default: none, then QBENCH_CUDA_PDL=0, QBENCH_INT4_STAGE=0,
#   QBENCH_GGUF_EARLY_EPILOGUE=0, QBENCH_CUDA_GRAPHS=0): pass/fail counts per set and the failed assertions'
#   places, the first failing log of each set kept (repeat-N.txt). Made for the fourteenth session's flaky suite
#   (one full run in two or three failed; the fifteenth found the race, docs/benchmarks-h100.md): keep using it
#   after changes to folds or buffers, since a race inside a kernel shows only now and then.
#   GEN_TOKENS / REPS (default 256 / 5) size the latency runs.
#   FORMATS (default gptq-int4,awq-int4,gguf-q4_k_m,gguf-q5_k_s,gguf-q8_0): the quantized 7B files the
#   `formats` step generates on the device (synthetic, real size and type mix) and runs the latency workload on.
# Inputs it looks for in .device/ (git-ignored, carried to the machine):
#   .device/shared/fixtures/tiny-qwen2/...  the reference fixture (QBENCH_SHARED_DIR), or
#   .device/shared.tar.gz                   the same folder as a gzip tarball (the fixtures uncompressed plus
#                                           the tree come to more than the 64 MiB a device call carries)
#   .device/debs/*.deb                      build deps unpacked to /opt/qbdeps when the image lacks them
set -uo pipefail
OUT_DIR=${1:-${OUT:-/tmp/qbench-cuda}}
STEPS=${2:-build,tests,sanitize,roofline,gemv,bench7b,bench7b-nographs,decode,profile,formats}
FORMATS=${FORMATS:-gptq-int4,awq-int4,gguf-q4_k_m,gguf-q5_k_s,gguf-q8_0}
TRACE_FORMATS=${TRACE_FORMATS:-gptq-int4,gguf-q8_0}
GEN_TOKENS=${GEN_TOKENS:-256}
REPS=${REPS:-5}
ROOT=$(pwd)
BUILD=${BUILD:-$ROOT/build-device}
MODEL_DIR=${MODEL_DIR:-/tmp/qwen2.5-7b-fp16}
JOBS=${JOBS:-$(nproc)}
mkdir -p "$OUT_DIR"
has() { [[ ",$STEPS," == *",$1,"* ]]; }
log() { echo "== $(date +%T) $*"; }
# qwen7b_model FORMAT (its path), ensure_model FORMAT PATH (generated on first use).
# shellcheck source=bench/qwen7b_models.sh
source "$ROOT/bench/qwen7b_models.sh"
# The FP16 checkpoint the FP16 steps share.
ensure_fp16_model() { ensure_model fp16 "$MODEL_DIR" || exit 1; }

# Build dependencies the image may lack (Eigen, nlohmann_json, Catch2, pcre2, utf8proc, hwloc, libpfm).
if ! pkg-config --exists hwloc libpcre2-8 libutf8proc 2>/dev/null || [ ! -d /usr/include/eigen3 ]; then
  if ls .device/debs/*.deb >/dev/null 2>&1; then
    log "unpacking carried build deps into /opt/qbdeps"
    for f in .device/debs/*.deb; do dpkg -x "$f" /opt/qbdeps; done
    for pc in /opt/qbdeps/usr/lib/x86_64-linux-gnu/pkgconfig/*.pc /opt/qbdeps/usr/share/pkgconfig/*.pc; do
      [ -f "$pc" ] && sed -i 's|^prefix=/usr$|prefix=/opt/qbdeps/usr|' "$pc"
    done
    export PKG_CONFIG_PATH=/opt/qbdeps/usr/lib/x86_64-linux-gnu/pkgconfig:/opt/qbdeps/usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
    export CMAKE_PREFIX_PATH=/opt/qbdeps/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}
    export LD_LIBRARY_PATH=/opt/qbdeps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    export CPATH=/opt/qbdeps/usr/include${CPATH:+:$CPATH}
  fi
fi
[ ! -d .device/shared ] && [ -f .device/shared.tar.gz ] && tar -xzf .device/shared.tar.gz -C .device
[ -d .device/shared ] && export QBENCH_SHARED_DIR=$ROOT/.device/shared

if has build; then
  log "configure + build"
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 >"$OUT_DIR/configure.log" 2>&1 ||
    { tail -40 "$OUT_DIR/configure.log"; exit 1; }
  ninja -C "$BUILD" -j"$JOBS" qbench qbench_tests bench_cuda_roofline bench_cuda_gemv bench_cuda_decode >"$OUT_DIR/build.log" 2>&1 ||
    { grep -E "error|FAILED" -A5 "$OUT_DIR/build.log" | head -60; exit 1; }
fi

if has tests; then
  log "[cuda] tests"
  # Failures in full; the measured error numbers print as "cuda ..." lines.
  "$BUILD/tests/qbench_tests" "[cuda]" 2>&1 | tee "$OUT_DIR/cuda_tests.txt" | tail -60
fi

if has repeat; then
  IFS=';' read -r -a sets <<<"${REPEAT_ENVS:--;QBENCH_CUDA_PDL=0;QBENCH_INT4_STAGE=0;QBENCH_GGUF_EARLY_EPILOGUE=0;QBENCH_CUDA_GRAPHS=0}"
  for k in "${!sets[@]}"; do
    set_k=${sets[$k]}
    [ "$set_k" = "-" ] && set_k=""
    pass=0 fail=0
    for ((i = 1; i <= ${REPEAT:-5}; ++i)); do
      # shellcheck disable=SC2086  # the set is a list of NAME=VALUE words
      if env $set_k "$BUILD/tests/qbench_tests" "[cuda]" >/tmp/repeat.txt 2>&1; then
        pass=$((pass + 1))
      else
        fail=$((fail + 1))
        [ -f "$OUT_DIR/repeat-$k.txt" ] || cp /tmp/repeat.txt "$OUT_DIR/repeat-$k.txt"
        grep -E "FAILED:" /tmp/repeat.txt | sort | uniq -c | sed 's/^/    /'
      fi
    done
    log "[cuda] x${REPEAT:-5} with '${set_k:-as is}': $pass passed, $fail failed"
  done
fi

if has sanitize && command -v compute-sanitizer >/dev/null; then
  # The [cuda-oom] test fails a cudaMalloc on purpose, which memcheck would report: it is left out here.
  log "compute-sanitizer memcheck on the kernel tests"
  compute-sanitizer --tool memcheck --error-exitcode 3 "$BUILD/tests/qbench_tests" "[cuda-kernels]" >"$OUT_DIR/sanitizer.txt" 2>&1
  echo "compute-sanitizer exit $?"; tail -4 "$OUT_DIR/sanitizer.txt"
fi

if has initcheck && command -v compute-sanitizer >/dev/null; then
  # Reads of device memory nothing wrote, per kernel, on two fixture tests alone, with CUDA graphs on and off (the
  # fifteenth session saw ~600 000 reports on the greedy test with graphs, none but add_bias's on a test without
  # replays: initcheck may not follow writes made inside graph replays; add_bias reads cuBLAS's TMA stores).
  for t in "int4 on cuda: prefill*" "pipelined greedy decode on cuda*"; do
    for g in 1 0; do
      log "initcheck, graphs $g: $t"
      QBENCH_CUDA_GRAPHS=$g timeout 300 compute-sanitizer --tool initcheck --print-limit 1000000 \
        "$BUILD/tests/qbench_tests" "$t" >/tmp/initcheck.txt 2>&1
      grep -E "^=========     at " /tmp/initcheck.txt | sed 's/+0x[0-9a-f]*//' | sort | uniq -c | sort -rn | head -12
      grep -E "ERROR SUMMARY|test cases" /tmp/initcheck.txt | tail -2
    done
  done
fi

if has roofline; then
  log "roofline"
  "$BUILD/bench/bench_cuda_roofline" --gib 4 --gemm 8192 | tee "$OUT_DIR/roofline.json"
fi

if has stream; then
  log "streaming-read patterns (launch size, warp/persistent/cp.async ring)"
  ninja -C "$BUILD" -j"$JOBS" bench_cuda_stream >/tmp/build-stream.log 2>&1 || { grep -E "error|FAILED" -A5 /tmp/build-stream.log | head -20; }
  "$BUILD/bench/bench_cuda_stream" | tee "$OUT_DIR/stream.txt"
fi

if has gemmalgos; then
  log "cuBLAS GEMM vs cuBLASLt heuristic candidates at the 7B shapes (64 and 2048 tokens)"
  ninja -C "$BUILD" -j"$JOBS" bench_cuda_gemm_algos >/tmp/build-gemm.log 2>&1 || { grep -E "error|FAILED" -A5 /tmp/build-gemm.log | head -20; }
  "$BUILD/bench/bench_cuda_gemm_algos" --tokens 64,2048 --reps 40 | tee "$OUT_DIR/gemm_algos.txt"
fi

if has gemv; then
  log "decode GEMV per projection (merged q/k/v and gate/up vs separate)"
  "$BUILD/bench/bench_cuda_gemv" --reps 50 | tee "$OUT_DIR/gemv.txt"
fi

if has longprompt; then
  ensure_fp16_model
  for fl in 1 0; do
    for p in 512 4096; do
      log "latency (fp16, QBENCH_CUDA_FLASH=$fl): prompt $p, generate 32, batch 1, $REPS reps"
      QBENCH_CUDA_FLASH=$fl "$BUILD/harness/qbench" run --model "$MODEL_DIR" --device cuda --workload latency \
        --prompt-tokens $p --gen-tokens 32 --reps "$REPS" --out "$OUT_DIR/latency-fp16-7b-p$p-flash$fl.json" 2>&1 |
        grep -E "TTFT|prefill|decode \("
    done
  done
fi

if has bench7b || has bench7b-nographs || has decode || has profile; then
  ensure_fp16_model
  latency() {  # $1: output name, $2: QBENCH_CUDA_GRAPHS
    log "latency ($1, graphs=$2): prompt 512, generate $GEN_TOKENS, batch 1, $REPS reps"
    QBENCH_CUDA_GRAPHS=$2 "$BUILD/harness/qbench" run --model "$MODEL_DIR" --device cuda --workload latency --prompt-tokens 512 \
      --gen-tokens "$GEN_TOKENS" --reps "$REPS" --out "$OUT_DIR/$1.json" 2>&1 | tail -20
  }
  has bench7b && latency latency-fp16-7b 1
  has bench7b-nographs && latency latency-fp16-7b-nographs 0
  if has decode; then
    log "one decode step taken apart (graphs on/off, launches and host build time per step)"
    "$BUILD/bench/bench_cuda_decode" --model "$MODEL_DIR" --prompt 512 --steps 131 | tee "$OUT_DIR/decode.txt"
  fi
  if has profile && command -v ncu >/dev/null; then
    # GPU time per kernel over 2 graph-replayed decode steps (Nsight Compute, one metric, no clock control).
    log "ncu: GPU time per kernel of a decode step"
    ncu --profile-from-start off --clock-control none --metrics gpu__time_duration.sum --csv --print-units base \
      "$BUILD/bench/bench_cuda_decode" --model "$MODEL_DIR" --prompt 512 --steps 5 >"$OUT_DIR/ncu.csv" 2>"$OUT_DIR/ncu.err"
    python3 bench/ncu_step_summary.py "$OUT_DIR/ncu.csv" 2 | tee "$OUT_DIR/ncu_summary.txt"
  fi
  nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total,clocks.sm,clocks.mem --format=csv | tee "$OUT_DIR/nvidia-smi.txt"
fi
if has formats; then
  for f in ${FORMATS//,/ }; do
    m=$(qwen7b_model "$f")
    ensure_model "$f" "$m" || continue
    log "latency ($f): prompt 512, generate $GEN_TOKENS, batch 1, $REPS reps"
    "$BUILD/harness/qbench" run --model "$m" --device cuda --workload latency --prompt-tokens 512 \
      --gen-tokens "$GEN_TOKENS" --reps "$REPS" --out "$OUT_DIR/latency-$f-7b.json" 2>&1 | tail -12
  done
fi
if has int4prof && command -v ncu >/dev/null; then
  m=$(qwen7b_model gptq-int4)
  ensure_model gptq-int4 "$m" || exit 1
  log "int4 decode step: ms per step, GPU time per kernel, ncu full set on one layer's GEMVs, SASS"
  "$BUILD/bench/bench_cuda_decode" --model "$m" --prompt 512 --steps 131 | tee "$OUT_DIR/decode-gptq.txt"
  ncu --profile-from-start off --clock-control none --metrics gpu__time_duration.sum --csv --print-units base \
    "$BUILD/bench/bench_cuda_decode" --model "$m" --prompt 512 --steps 5 >"$OUT_DIR/ncu-gptq.csv" 2>"$OUT_DIR/ncu-gptq.err"
  python3 bench/ncu_step_summary.py "$OUT_DIR/ncu-gptq.csv" 2 | tee "$OUT_DIR/ncu-gptq-summary.txt"
  # bench_cuda_decode takes --steps >= 4; --launch-count 4 = the first layer's four GEMVs.
  ncu --profile-from-start off --clock-control none --set full -k regex:int4_gemv --launch-count 4 \
    "$BUILD/bench/bench_cuda_decode" --model "$m" --prompt 512 --steps 5 >"$OUT_DIR/ncu-int4-full.txt" 2>&1
  python3 bench/ncu_kernel_table.py "$OUT_DIR/ncu-int4-full.txt" | tee "$OUT_DIR/ncu-int4-table.txt"
  o=$(find "$BUILD" -name "int4_gemv_cuda.cu.o" | head -1)
  [ -n "$o" ] && cuobjdump -sass "$o" >"$OUT_DIR/int4_gemv.sass" 2>/dev/null
fi
if has trace; then
  ninja -C "$BUILD" -j"$JOBS" qbench_kernel_trace >/tmp/build-trace.log 2>&1 || { grep -E "error|FAILED" -A5 /tmp/build-trace.log | head -20; }
  for f in ${TRACE_FORMATS//,/ }; do
    m=$(qwen7b_model "$f")
    ensure_model "$f" "$m" || continue
    # The latency workload's own decode loop (pipelined greedy on the GPU): bench_cuda_decode runs several loops
    # whose graphs the summary could not tell apart.
    log "kernel trace of the $f decode step (latency workload, prompt 512, generate 128: untraced, then traced)"
    {
      # $@: variables for qbench alone (the tracer must not be preloaded into grep, whose exit would write a trace)
      lat() { env "$@" "$BUILD/harness/qbench" run --model "$m" --device cuda --workload latency --prompt-tokens 512 \
        --gen-tokens 128 --reps 1 --out "/tmp/trace-$f.json" 2>&1 | grep -E "decode \(|TPOT"; }
      lat
      lat QBENCH_KERNEL_TRACE="/tmp/trace-$f.csv" LD_PRELOAD="$BUILD/bench/libqbench_kernel_trace.so"
      # Layer 14's kernels (a step has kernels_per_layer * 28 + a few; the summary's count says how many).
      n=$(python3 bench/kernel_trace_summary.py "/tmp/trace-$f.csv" --skip 4 | awk 'NR==1{print $3}')
      per=$(( (n - 4) / 28 ))
      python3 bench/kernel_trace_summary.py "/tmp/trace-$f.csv" --skip 4 --timeline $((14 * per)):$((15 * per + 2))
    } 2>&1 | tee "$OUT_DIR/trace-$f.txt"
  done
fi
# CPU decode of the GGUF and int4 formats on this machine's host CPU (all cores), next to probes
# taken right before and after each row: a second CPU for issues 3 and 4 (the 2-vCPU development VM
# is compute-bound on these kernels). Synthetic 0.5B/1.5B files are written under /tmp/qbench-cpu-models.
if has cpubench; then
  ninja -C "$BUILD" -j"$JOBS" bench_gguf_decode bench_int4_decode >/tmp/build-cpubench.log 2>&1 ||
    { grep -E "error|FAILED" -A5 /tmp/build-cpubench.log | head -40; }
  log "CPU: GGUF decode, $(nproc) threads"
  "$BUILD/bench/bench_gguf_decode" --models-dir /tmp/qbench-cpu-models --decode 48 --json "$OUT_DIR/cpu-gguf-decode.json" 2>&1 |
    grep -v "^writing"
  log "CPU: int4 decode, $(nproc) threads"
  "$BUILD/bench/bench_int4_decode" --models-dir /tmp/qbench-cpu-models --decode 48 --json "$OUT_DIR/cpu-int4-decode.json" 2>&1 |
    grep -v "^writing"
fi
# Throughput under concurrency (issue 9; run it by naming the step: ... OUT_DIR build,roofline,throughput).
# Continuous batching on the 7B FP16 shape, 512 in / 256 out, greedy, over a concurrency sweep; a point at
# concurrency C runs min(TP_REQUESTS, TP_PER_CONC * C) requests; NVML utilisation sampled every 50 ms. Then the
# curve against the step roofline (bench/throughput_roofline.py, bandwidth from roofline.json when the roofline
# step ran) and, first, the decode-step table of bench_cuda_batch_decode (GEMM path by batch size) and its mixed
# prefill + decode step.
# Env: TP_SWEEP (1,2,4,8,16,32,64), TP_REQUESTS (128), TP_PER_CONC (8), TP_MAX_BATCHED (2048), TP_DECODE_BENCH (1),
#      TP_DECODE_ARGS (extra bench_cuda_batch_decode options). Writes $OUT_DIR/throughput-fp16-7b.json (+ -roofline.json).
if has throughput; then
  TP_SWEEP=${TP_SWEEP:-1,2,4,8,16,32,64}
  TP_REQUESTS=${TP_REQUESTS:-128}
  TP_PER_CONC=${TP_PER_CONC:-8}
  TP_MAX_BATCHED=${TP_MAX_BATCHED:-2048}
  ensure_fp16_model
  if [ "${TP_DECODE_BENCH:-1}" = 1 ]; then
    log "batched decode step by batch size and GEMM path"
    ninja -C "$BUILD" -j"$JOBS" bench_cuda_batch_decode >/tmp/build-batch-decode.log 2>&1 ||
      { grep -E "error|FAILED" -A5 /tmp/build-batch-decode.log | head -40; }
    "$BUILD/bench/bench_cuda_batch_decode" --model "$MODEL_DIR" --prompt 512 --steps 16 ${TP_DECODE_ARGS:-} |
      tee "$OUT_DIR/batch-decode.txt"
    # The step that carries prefill at concurrency 64: 4 prompts of 512 join 60 decoding sequences (power-bound on
    # the H100: docs/benchmarks-h100.md, fifth session).
    log "mixed step: 60 decode rows + 1988 prompt tokens"
    "$BUILD/bench/bench_cuda_batch_decode" --model "$MODEL_DIR" --prompt 512 --steps 12 --batches 60 --paths auto \
      --mixed 1988 | tee "$OUT_DIR/batch-decode-mixed.txt"
  fi
  log "throughput: $TP_REQUESTS requests (<= $TP_PER_CONC x concurrency), 512 in / 256 out, concurrency $TP_SWEEP"
  "$BUILD/harness/qbench" run --model "$MODEL_DIR" --device cuda --workload throughput --requests "$TP_REQUESTS" \
    --requests-per-concurrency "$TP_PER_CONC" --sweep "concurrency=$TP_SWEEP" --prompt-tokens 512 --gen-tokens 256 \
    --max-num-seqs 64 --max-batched-tokens "$TP_MAX_BATCHED" --out "$OUT_DIR/throughput-fp16-7b.json" 2>&1 |
    grep -v "elapsed" | tail -16
  rf=()
  [ -f "$OUT_DIR/roofline.json" ] && rf=(--roofline "$OUT_DIR/roofline.json")
  [ -f "$OUT_DIR/throughput-fp16-7b.json" ] && python3 bench/throughput_roofline.py "$OUT_DIR/throughput-fp16-7b.json" "${rf[@]}"
fi
log done
