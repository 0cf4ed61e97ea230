#include "engines/formats/hf_side_files.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engines/core/error.h"

namespace fs = std::filesystem;

namespace qbench {

void write_text_file_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    f << text;
    f.close();
    if (!f) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw Error(path + ": write failed");
    }
  }
  fs::rename(tmp, path);
}

void write_hf_side_files(const std::string& dir, const std::string& config_json, const ModelConfig& cfg,
                         const std::string& tokenizer_json) {
  const fs::path d(dir);
  write_text_file_atomic((d / "config.json").string(), config_json);
  const nlohmann::json gen = {{"bos_token_id", cfg.bos_token_id}, {"eos_token_id", cfg.eos_token_id}, {"do_sample", false}};
  write_text_file_atomic((d / "generation_config.json").string(), gen.dump(2) + "\n");
  if (tokenizer_json.empty()) return;
  fs::copy_file(tokenizer_json, d / "tokenizer.json", fs::copy_options::overwrite_existing);
  const fs::path tc = fs::path(tokenizer_json).parent_path() / "tokenizer_config.json";
  if (fs::exists(tc)) fs::copy_file(tc, d / "tokenizer_config.json", fs::copy_options::overwrite_existing);
}

}  // namespace qbench
