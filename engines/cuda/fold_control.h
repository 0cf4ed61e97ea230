#pragma once
// The switch for the launch folds that cut the kernels of a batched step (half_copy.h: a producer writes
// the 16-bit copy its consumer GEMM reads, and only that copy when nothing reads its FP32 output; ops_cuda.cu:
// the residual add joins the RMSNorm after it, the q/k/v bias adds share one launch, a batched pass's K/V
// store joins the RoPE launch, which also takes the merged q/k/v GEMM's epilogue pass). On unless
// QBENCH_CUDA_FOLDS=0 at start-up; tests and A/B measurements switch it. Every fold is meant to give
// bit-identical results (tests/cuda_fold_test.cpp checks). Plain C++: tests can include it. Both switches
// are defined in half_copy.cpp.
namespace qbench::cuda {
bool launch_folds_enabled();
// Runs what is queued first: launches queued under one setting run under it.
void set_launch_folds_enabled(bool on);
// Within the launch folds: producers writing the decode GEMVs' activation forms (the int4 GEMV's fragments,
// the GGUF GEMV's int8 runs; half_copy.h fold_int4_fragments / fold_gguf_runs) instead of those GEMVs
// queueing a packing launch of their own. On unless QBENCH_CUDA_FORM_FOLDS=0 at start-up.
bool form_folds_enabled();
void set_form_folds_enabled(bool on);
// Within the form folds, batch-1 decode only: a one-row RMSNorm between an int4 GEMV that adds into its input
// (the residual) and the int4 GEMVs reading its fragments runs inside them (linear_int4_cuda.h
// fold_rmsnorm_into_int4): not bit-identical (the GEMVs multiply x·w and scale their sums). On unless
// QBENCH_CUDA_NORM_FOLD=0 at start-up.
bool norm_folds_enabled();
void set_norm_folds_enabled(bool on);
// Within the form folds, decode: SiLU·mul runs inside the int4 gate/up GEMV before it (linear_int4_cuda.h
// fold_silu_into_int4); bit-identical. On unless QBENCH_CUDA_SILU_FOLD=0 at start-up.
bool silu_folds_enabled();
void set_silu_folds_enabled(bool on);
// Decode attention whose every row is split alike (2..16 splits, F16 cache, sm_90): the splits of a row and
// KV head run as one thread-block cluster and merge through distributed shared memory instead of a combine
// launch (attention_flash_cuda.h FlashArgs::cluster); bit-identical. On unless QBENCH_CUDA_CLUSTER_MERGE=0 at
// start-up; independent of the launch folds.
bool cluster_merge_enabled();
void set_cluster_merge_enabled(bool on);
// How many attention passes have been queued with their splits merged in clusters (attention_cuda.cu); tests count.
unsigned long long cluster_merges();
// q/k/v as one cuBLAS GEMM at batched decode (linear_dense_cuda.cu), on unless QBENCH_CUDA_GEMM_MERGE=0.
// Not bit-identical to three GEMMs (cuBLAS may pick another kernel and summation order for the merged shape).
bool gemm_merge_enabled();
void set_gemm_merge_enabled(bool on);
// How many producers have written only the 16-bit copy of their output so far (half_copy.h release_f32;
// a launch fold too: off with the others). Tests count them.
unsigned long long f32_writes_skipped();
// How many q/k/v GEMM epilogue passes the RoPE launch after them has taken over (ops_cuda.cu; a launch fold).
unsigned long long gemm_epilogues_folded();
}  // namespace qbench::cuda
