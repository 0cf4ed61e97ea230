#pragma once
// Calibration text for the in-tree GPTQ and AWQ quantizers: a small bundled
// set written for qbench (prose, dialogue, code, numbers, a little Chinese),
// or a text file the user gives. Sequences are cut from the tokenized text.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "datasets/tokenizer/tokenizer.h"

namespace qbench {

std::string_view bundled_calibration_text();

// The text of `path`, or the bundled text when path is empty; tokenized and cut
// into at most max_seqs sequences of seq_len tokens (the last partial one kept
// when it has at least 16 tokens). Throws qbench::Error for an unreadable or empty file.
std::vector<std::vector<int32_t>> calibration_sequences(const Tokenizer& tok, const std::string& path, int64_t seq_len,
                                                        int64_t max_seqs);

}  // namespace qbench
