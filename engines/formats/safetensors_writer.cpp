#include "engines/formats/safetensors_writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>

#include "engines/core/error.h"

namespace fs = std::filesystem;

namespace qbench {

uint64_t TensorToWrite::nbytes() const {
  uint64_t n = dtype_size(dtype);
  for (auto d : shape) n *= uint64_t(d);
  return n;
}

namespace {

void write_one(const std::string& path, const std::vector<const TensorToWrite*>& ts,
               const std::map<std::string, std::string>& metadata) {
  nlohmann::json h = nlohmann::json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  uint64_t off = 0;
  for (auto* t : ts) {
    h[t->name] = {{"dtype", dtype_name(t->dtype)}, {"shape", t->shape}, {"data_offsets", {off, off + t->nbytes()}}};
    off += t->nbytes();
  }
  std::string header = h.dump();
  header.append((8 - header.size() % 8) % 8, ' ');  // align data to 8 bytes, as the reference writer does
  const std::string tmp = path + ".tmp";
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(tmp.c_str(), "wb"), &std::fclose);
  if (!f) throw Error(tmp + ": cannot create: " + std::strerror(errno));
  const uint64_t hlen = header.size();
  bool ok = std::fwrite(&hlen, 8, 1, f.get()) == 1 && std::fwrite(header.data(), 1, hlen, f.get()) == hlen;
  std::vector<uint8_t> buf;
  for (auto* t : ts) {
    if (!ok) break;
    buf.resize(t->nbytes());
    t->fill(buf.data(), buf.size());
    ok = std::fwrite(buf.data(), 1, buf.size(), f.get()) == buf.size();
  }
  ok = ok && std::fflush(f.get()) == 0;
  f.reset();
  if (!ok) {
    std::remove(tmp.c_str());
    throw Error(path + ": write failed (disk full?)");
  }
  fs::rename(tmp, path);
}

}  // namespace

std::vector<std::string> write_safetensors_checkpoint(const std::string& dir, const std::vector<TensorToWrite>& tensors,
                                                      const std::map<std::string, std::string>& metadata,
                                                      uint64_t max_shard_bytes) {
  fs::create_directories(dir);
  std::vector<std::vector<const TensorToWrite*>> shards(1);
  uint64_t cur = 0, total = 0;
  for (auto& t : tensors) {
    if (cur > 0 && cur + t.nbytes() > max_shard_bytes) {
      shards.emplace_back();
      cur = 0;
    }
    shards.back().push_back(&t);
    cur += t.nbytes();
    total += t.nbytes();
  }
  std::vector<std::string> written;
  if (shards.size() == 1) {
    written.push_back((fs::path(dir) / "model.safetensors").string());
    write_one(written.back(), shards[0], metadata);
    return written;
  }
  nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", nlohmann::json::object()}};
  for (size_t i = 0; i < shards.size(); ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
    written.push_back((fs::path(dir) / name).string());
    write_one(written.back(), shards[i], metadata);
    for (auto* t : shards[i]) index["weight_map"][t->name] = name;
  }
  const std::string ip = (fs::path(dir) / "model.safetensors.index.json").string();
  FILE* f = std::fopen((ip + ".tmp").c_str(), "wb");
  if (!f) throw Error(ip + ": cannot create");
  const std::string s = index.dump(2) + "\n";
  const bool ok = std::fwrite(s.data(), 1, s.size(), f) == s.size();
  std::fclose(f);
  if (!ok) throw Error(ip + ": write failed");
  fs::rename(ip + ".tmp", ip);
  written.push_back(ip);
  return written;
}

}  // namespace qbench
