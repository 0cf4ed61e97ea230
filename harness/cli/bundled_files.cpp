#include "harness/cli/bundled_files.h"

#include <cstdlib>
#include <filesystem>

#include "datasets/tokenizer/tokenizer.h"

namespace qbench::cli {

std::string bundled_tokenizer_json() {
  if (const char* env = std::getenv("QBENCH_TOKENIZER"); env && std::filesystem::exists(env)) return env;
  return bundled_qwen_tokenizer_path(QBENCH_SOURCE_DIR);
}

}  // namespace qbench::cli
