#pragma once
// What every benchmark program shares and can include anywhere (also from
// .cu files, without OpenMP): --key value options, list options, and what one
// decode step streams from memory (the roofline's numerator).
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "engines/model/model_weights.h"

namespace qbench {

// Value of `--key VALUE` on the command line, else def.
inline std::string arg(int argc, char** argv, const std::string& key, const std::string& def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == "--" + key) return argv[i + 1];
  return def;
}

// "a,b,c" -> {"a", "b", "c"} (list options).
inline std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string x; std::getline(ss, x, ',');) out.push_back(x);
  return out;
}

// Bytes one decode step reads: every Linear once; the embedding table only
// when it is also the LM head (otherwise one row is gathered).
inline uint64_t decode_bytes_per_token(const ModelWeights& w) {
  uint64_t b = w.weight_bytes();
  if (w.lm_head) b -= w.embed->weight_bytes();
  return b;
}

}  // namespace qbench
