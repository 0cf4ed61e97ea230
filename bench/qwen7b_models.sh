# shellcheck shell=bash
# Qwen2.5-7B-shaped synthetic models on the GPU machine (real size and type mix, written by `qbench fixture`),
# for the scripts that source this file (cuda_device_run.sh, cuda_step_ab.sh). They set BUILD (the build folder).

# Where FORMAT's model lives: a .gguf file for the GGUF formats, else a folder (fp16: $MODEL_DIR when set).
qwen7b_model() {
  case $1 in
    fp16) echo "${MODEL_DIR:-/tmp/qwen2.5-7b-fp16}" ;;
    gguf-*) echo "/tmp/qwen2.5-7b-$1.gguf" ;;
    *) echo "/tmp/qwen2.5-7b-$1" ;;
  esac
}

# The model of format $1 at $2, generated on first use: a file, or a folder that counts once its config.json is
# written.
ensure_model() {
  if [ ! -f "$2" ] && [ ! -f "$2/config.json" ]; then
    echo "== $(date +%T) generating Qwen2.5-7B-shaped $1 in $2"
    OMP_NUM_THREADS=${JOBS:-$(nproc)} "$BUILD/harness/qbench" fixture --shape qwen2.5-7b --format "$1" --out "$2" \
      --no-tokenizer
  fi
}
