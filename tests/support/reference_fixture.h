#pragma once
// Readers for ../shared/fixtures/tiny-qwen2/reference: the token sequences,
// the reference logits per format, greedy continuations, dequantized rows;
// and the comparison measures the fixture README states tolerances in.
#include <cstdint>
#include <string>
#include <vector>

namespace qbench::test {

struct RefSequence {
  std::string name;
  std::vector<int32_t> ids;
};

// Absolute path of ../shared/fixtures/tiny-qwen2 ("" if absent).
std::string tiny_fixture_dir();
std::vector<RefSequence> reference_sequences();
// The ids of the reference sequence `name` ("rand200", "text_zh", ...); throws when there is none.
std::vector<int32_t> reference_ids(const std::string& name);

struct RefLogits {
  int64_t first_pos = 0, rows = 0, vocab = 0;
  std::vector<float> data;  // [rows, vocab]
};
// format: "hf-fp16", "gguf-q4_k_m", "gptq", ...
RefLogits reference_logits(const std::string& format, const std::string& sequence);
std::vector<int32_t> reference_greedy(const std::string& format, const std::string& prompt);

// Dequantized reference rows: returns [rows, cols] floats and fills shape.
std::vector<float> reference_dequant(const std::string& format, const std::string& tensor, std::vector<int64_t>& shape);

double max_abs_diff(const float* a, const float* b, int64_t n);
// KL(p_ref || p_test) in nats over softmax of one row.
double kl_divergence(const float* ref_logits, const float* test_logits, int64_t vocab);

}  // namespace qbench::test
