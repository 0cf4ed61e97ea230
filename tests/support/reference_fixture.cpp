#include "tests/support/reference_fixture.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

#include "tests/support/test_paths.h"

namespace fs = std::filesystem;

namespace qbench::test {

namespace {

nlohmann::json read_json(const fs::path& p) {
  std::ifstream f(p);
  if (!f) throw std::runtime_error("cannot open " + p.string());
  return nlohmann::json::parse(f);
}

std::vector<float> read_floats(const fs::path& p, uint64_t offset, uint64_t count) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + p.string());
  std::vector<float> v(count);
  f.seekg(std::streamoff(offset));
  f.read(reinterpret_cast<char*>(v.data()), std::streamsize(count * sizeof(float)));
  if (!f) throw std::runtime_error("short read in " + p.string());
  return v;
}

fs::path ref_dir() { return fs::path(tiny_fixture_dir()) / "reference"; }

}  // namespace

std::string tiny_fixture_dir() {
  const std::string s = shared_dir();
  return s.empty() ? "" : (fs::path(s) / "fixtures" / "tiny-qwen2").string();
}

std::vector<RefSequence> reference_sequences() {
  std::vector<RefSequence> out;
  const nlohmann::json j = read_json(ref_dir() / "tokens.json");  // kept alive for the loop
  for (auto& s : j["sequences"]) out.push_back({s["name"], s["ids"].get<std::vector<int32_t>>()});
  if (out.size() != 6) throw std::runtime_error("tokens.json: expected 6 sequences");
  return out;
}

std::vector<int32_t> reference_ids(const std::string& name) {
  for (RefSequence& s : reference_sequences())
    if (s.name == name) return std::move(s.ids);
  throw std::runtime_error("tokens.json: no sequence '" + name + "'");
}

RefLogits reference_logits(const std::string& format, const std::string& sequence) {
  const auto idx = read_json(ref_dir() / "logits" / "index.json");
  const auto& f = idx["formats"].at(format);
  const auto& s = f["sequences"].at(sequence);
  RefLogits r;
  r.vocab = idx["vocab_size"];
  r.rows = s["rows"];
  r.first_pos = s["positions"][0];
  r.data = read_floats(ref_dir() / "logits" / f["file"].get<std::string>(), s["offset_bytes"], uint64_t(r.rows * r.vocab));
  return r;
}

std::vector<int32_t> reference_greedy(const std::string& format, const std::string& prompt) {
  return read_json(ref_dir() / "greedy.json")["results"].at(format).at(prompt).get<std::vector<int32_t>>();
}

std::vector<float> reference_dequant(const std::string& format, const std::string& tensor, std::vector<int64_t>& shape) {
  const auto idx = read_json(ref_dir() / "dequant" / "index.json");
  const auto& f = idx["formats"].at(format);
  const auto& t = f["tensors"].at(tensor);
  shape = t["shape"].get<std::vector<int64_t>>();
  uint64_t n = 1;
  for (auto d : shape) n *= uint64_t(d);
  return read_floats(ref_dir() / "dequant" / f["file"].get<std::string>(), t["offset_bytes"], n);
}

double max_abs_diff(const float* a, const float* b, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(double(a[i]) - double(b[i])));
  return m;
}

double kl_divergence(const float* ref, const float* test, int64_t vocab) {
  double mr = ref[0], mt = test[0];
  for (int64_t i = 1; i < vocab; ++i) {
    mr = std::max(mr, double(ref[i]));
    mt = std::max(mt, double(test[i]));
  }
  double zr = 0, zt = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    zr += std::exp(ref[i] - mr);
    zt += std::exp(test[i] - mt);
  }
  const double lzr = std::log(zr) + mr, lzt = std::log(zt) + mt;
  double kl = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    const double lp = ref[i] - lzr, lq = test[i] - lzt;
    kl += std::exp(lp) * (lp - lq);
  }
  return kl;
}

}  // namespace qbench::test
