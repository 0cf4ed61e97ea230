// Where tokenizer.json files are found on disk.
#include <filesystem>
#include <system_error>

#include "datasets/tokenizer/tokenizer.h"

namespace qbench {
namespace fs = std::filesystem;

namespace {
bool is_nonempty_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && fs::file_size(p, ec) > 0 && !ec;
}
}  // namespace

std::string find_tokenizer_json(const std::string& model_dir) {
  if (model_dir.empty()) return "";
  std::error_code ec;
  fs::path dir(model_dir);
  // A model file (.safetensors, .gguf) given instead of its folder: look next to it.
  if (fs::is_regular_file(dir, ec)) dir = dir.parent_path();
  const fs::path candidate = dir / "tokenizer.json";
  return is_nonempty_file(candidate) ? candidate.string() : "";
}

std::string bundled_qwen_tokenizer_path(const std::string& repo_root) {
  const fs::path p = fs::path(repo_root) / "third_party" / "qwen2.5-tokenizer" / "tokenizer.json";
  return is_nonempty_file(p) ? p.string() : "";
}

}  // namespace qbench
