#include "harness/plan/model_source.h"

#include <filesystem>

#include "engines/core/error.h"
#include "engines/formats/gguf_model.h"
#include "engines/model/shape_catalog.h"

namespace qbench::plan {

namespace fs = std::filesystem;

ModelConfig resolve_model_config(const std::string& m) {
  for (const std::string& n : shape_names())
    if (n == m) return shape_config(m);
  std::error_code ec;
  if (fs::is_directory(m, ec)) {
    const fs::path cfg = fs::path(m) / "config.json";
    if (!fs::exists(cfg, ec)) throw Error(m + ": no config.json in this directory");
    return load_hf_config(cfg.string());
  }
  if (fs::is_regular_file(m, ec)) {
    // GGUF: the config comes from the file's `<arch>.*` metadata (the header only is read).
    if (fs::path(m).extension() == ".gguf") return gguf_model_config(GgufFile(m));
    return load_hf_config(m);
  }
  std::string list;
  for (auto& n : shape_names()) list += (list.empty() ? "" : ", ") + n;
  throw Error("--model '" + m + "' is neither a catalog model (" + list + ") nor a config.json / checkpoint directory");
}

}  // namespace qbench::plan
