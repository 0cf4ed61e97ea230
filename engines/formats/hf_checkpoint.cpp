#include "engines/formats/hf_checkpoint.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engines/core/error.h"

namespace fs = std::filesystem;

namespace qbench {

std::string read_text_file(const std::string& path, uint64_t max_bytes) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) throw Error(path + ": cannot read: " + ec.message());
  if (size > max_bytes) throw Error(path + ": too large (" + std::to_string(size) + " bytes)");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

HfCheckpoint::HfCheckpoint(const std::string& dir) : dir_(dir) {
  const fs::path d(dir);
  if (!fs::is_directory(d)) throw Error(dir + ": not a directory");
  const std::string cfg = (d / "config.json").string();
  if (!fs::exists(cfg)) throw Error(dir + ": no config.json");
  config_text_ = read_text_file(cfg);
  config_ = parse_hf_config(config_text_, cfg);

  const fs::path index = d / "model.safetensors.index.json";
  const fs::path single = d / "model.safetensors";
  if (fs::exists(index)) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(read_text_file(index.string()));
    } catch (const nlohmann::json::exception& e) {
      throw Error(index.string() + ": malformed JSON: " + e.what());
    }
    if (!j.contains("weight_map") || !j["weight_map"].is_object())
      throw Error(index.string() + ": no weight_map object");
    std::map<std::string, std::string> wanted;  // tensor -> shard file
    std::set<std::string> files;
    for (auto& [name, file] : j["weight_map"].items()) {
      if (!file.is_string()) throw Error(index.string() + ": weight_map['" + name + "'] is not a string");
      const std::string f = file.get<std::string>();
      if (f.find('/') != std::string::npos || f.find("..") != std::string::npos)
        throw Error(index.string() + ": shard name '" + f + "' must be a plain file name in the directory");
      wanted[name] = f;
      files.insert(f);
    }
    std::map<std::string, const SafetensorsFile*> by_file;
    for (auto& f : files) {
      shards_.push_back(std::make_unique<SafetensorsFile>((d / f).string()));
      by_file[f] = shards_.back().get();
    }
    for (auto& [name, f] : wanted) {
      if (!by_file[f]->find(name))
        throw Error(index.string() + ": tensor '" + name + "' is listed in " + f + " but that shard does not hold it");
      where_[name] = by_file[f];
    }
  } else if (fs::exists(single)) {
    shards_.push_back(std::make_unique<SafetensorsFile>(single.string()));
    for (auto& n : shards_.back()->names()) where_[n] = shards_.back().get();
  } else {
    throw Error(dir + ": no model.safetensors or model.safetensors.index.json");
  }
}

const TensorRef* HfCheckpoint::find(const std::string& name) const {
  auto it = where_.find(name);
  return it == where_.end() ? nullptr : it->second->find(name);
}

std::vector<std::string> HfCheckpoint::names() const {
  std::vector<std::string> out;
  for (auto& kv : where_) out.push_back(kv.first);
  return out;
}

uint64_t HfCheckpoint::file_bytes() const {
  uint64_t n = 0;
  for (auto& s : shards_) n += s->file_bytes();
  return n;
}

}  // namespace qbench
