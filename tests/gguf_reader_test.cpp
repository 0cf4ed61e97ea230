// GGUF reader: the fixture files parse as the README describes them, and
// corrupted inputs each give a clear qbench::Error (never a crash).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>

#include "engines/core/error.h"
#include "engines/formats/gguf_model.h"
#include "engines/formats/gguf_reader.h"
#include "engines/formats/gguf_writer.h"
#include "tests/support/reference_fixture.h"
#include "tests/support/test_paths.h"

using namespace qbench;
using namespace qbench::test;
using quant::GgmlType;

namespace {

// A small valid file: a few metadata values (one nested array) and two tensors.
std::vector<uint8_t> small_file() {
  GgufWriter w;
  w.set_str("general.architecture", "qwen2");
  w.set_u32("general.alignment", 32);
  w.set_strings("tokenizer.ggml.tokens", {"a", "b", "c"});
  GgufValue nested;
  nested.type = GgufType::ARRAY;
  nested.elem = GgufType::ARRAY;
  for (int i = 0; i < 2; ++i) {
    GgufValue inner;
    inner.type = GgufType::ARRAY;
    inner.elem = GgufType::I32;
    for (int k = 0; k < 3; ++k) {
      GgufValue e;
      e.type = GgufType::I32;
      e.i = i * 10 + k;
      inner.arr.push_back(e);
    }
    nested.arr.push_back(inner);
  }
  w.set("test.nested", nested);
  static std::vector<uint8_t> q8(34 * 2 * 3, 1), f32(4 * 5, 0);
  w.add_tensor("w", GgmlType::Q8_0, {64, 3}, q8.data());
  w.add_tensor("bias", GgmlType::F32, {5}, f32.data());
  return w.to_bytes();
}

std::string parse_error(const std::vector<uint8_t>& b) {
  try {
    GgufFile f(b.data(), b.size(), "bad.gguf");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Byte position of the tensor info of `name` (the 8-byte length before it).
size_t tensor_info_pos(const std::vector<uint8_t>& b, const std::string& name) {
  std::string key(8, '\0');
  const uint64_t n = name.size();
  std::memcpy(key.data(), &n, 8);
  key += name;
  key += std::string("\x02\0\0\0", 4);  // two dims follow the name of "w"
  auto it = std::search(b.begin(), b.end(), key.begin(), key.end());
  REQUIRE(it != b.end());
  return size_t(it - b.begin());
}

template <class T>
void poke(std::vector<uint8_t>& b, size_t pos, T v) {
  std::memcpy(b.data() + pos, &v, sizeof(T));
}

}  // namespace

TEST_CASE("GGUF reader parses a written file: metadata, nested arrays, tensors", "[gguf][gguf_reader]") {
  const auto b = small_file();
  GgufFile f(b.data(), b.size(), "small.gguf");
  CHECK(f.version() == 3);
  CHECK(f.alignment() == 32);
  CHECK(f.require("general.architecture").s == "qwen2");
  CHECK(f.require("tokenizer.ggml.tokens").to_strings("t") == std::vector<std::string>{"a", "b", "c"});
  const GgufValue& n = f.require("test.nested");
  REQUIRE(n.arr.size() == 2);
  CHECK(n.arr[1].to_ints("x") == std::vector<int64_t>{10, 11, 12});
  REQUIRE(f.tensors().size() == 2);
  const GgufTensor& w = f.require_tensor("w");
  CHECK(w.type == GgmlType::Q8_0);
  CHECK(w.dims == std::vector<int64_t>{64, 3});
  CHECK(w.nbytes == 34 * 2 * 3);
  CHECK(w.data == b.data() + f.data_offset());
  CHECK(f.data_offset() % 32 == 0);
  CHECK(f.require_tensor("bias").offset % 32 == 0);
}

TEST_CASE("GGUF reader rejects corrupted files with a clear error", "[gguf][gguf_reader]") {
  const auto good = small_file();
  REQUIRE(parse_error(good).empty());
  auto expect = [](std::vector<uint8_t> b, const std::string& needle) {
    const std::string e = parse_error(b);
    INFO("error: " << e);
    CHECK(e.find("bad.gguf") != std::string::npos);
    CHECK(e.find(needle) != std::string::npos);
  };
  SECTION("truncated at every length") {
    for (size_t n = 0; n < good.size(); n += (n < 400 ? 1 : 7)) {
      std::vector<uint8_t> b(good.begin(), good.begin() + long(n));
      INFO("length " << n);
      CHECK(!parse_error(b).empty());
    }
  }
  SECTION("bad magic") { auto b = good; b[0] = 'X'; expect(b, "bad magic"); }
  SECTION("version 1 and 2") {
    auto b = good; poke<uint32_t>(b, 4, 1); expect(b, "version 1");
    poke<uint32_t>(b, 4, 2); expect(b, "version 2");
    poke<uint32_t>(b, 4, 7); expect(b, "unknown GGUF version 7");
  }
  SECTION("absurd counts") {
    auto b = good; poke<uint64_t>(b, 8, ~0ull); expect(b, "tensor count");
    b = good; poke<uint64_t>(b, 16, uint64_t(1) << 60); expect(b, "metadata count");
    b = good; poke<uint64_t>(b, 16, 12); expect(b, "bad.gguf");
  }
  SECTION("string length past EOF") { auto b = good; poke<uint64_t>(b, 24, uint64_t(1) << 40); expect(b, "string length"); }
}

TEST_CASE("GGUF reader rejects bad tensor infos", "[gguf][gguf_reader]") {
  // Layout of the info of "w": u64 len, "w", u32 n_dims = 2, u64 dims[2], u32 type, u64 offset.
  const auto good = small_file();
  const size_t p = tensor_info_pos(good, "w");
  const size_t dims = p + 8 + 1 + 4, type = dims + 16, off = type + 4;
  auto expect = [](std::vector<uint8_t> b, const std::string& needle) {
    const std::string e = parse_error(b);
    INFO("error: " << e);
    CHECK(e.find(needle) != std::string::npos);
  };
  auto b = good; poke<uint64_t>(b, off, 1ull << 40); expect(b, "runs past the end of the file");
  b = good; poke<uint64_t>(b, off, 16); expect(b, "not a multiple of the alignment");
  b = good; poke<uint64_t>(b, off, 32); expect(b, "overlaps");
  b = good; poke<uint32_t>(b, type, 99); expect(b, "unknown ggml type id 99");
  b = good; poke<uint32_t>(b, type, 16); expect(b, "iq2_xxs");
  b = good; poke<uint64_t>(b, dims, 33); expect(b, "not a multiple of the q8_0 block");
  b = good; poke<uint64_t>(b, dims + 8, ~0ull >> 1); expect(b, "dimension");
  b = good; poke<uint32_t>(b, p + 9, 9); expect(b, "dimensions");
}

TEST_CASE("GGUF fixture files: config, tensor types and tokenizer from metadata", "[gguf][gguf_reader][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/gguf/tiny-qwen2-q4_k_m.gguf")) return;
  struct Want { const char* file; std::map<std::string, int> counts; };
  const Want wants[] = {
      {"tiny-qwen2-f16.gguf", {{"f16", 29}, {"f32", 21}}},
      {"tiny-qwen2-q8_0.gguf", {{"q8_0", 29}, {"f32", 21}}},
      {"tiny-qwen2-q5_k_s.gguf", {{"q5_k", 28}, {"q6_k", 1}, {"f32", 21}}},
      {"tiny-qwen2-q4_k_m.gguf", {{"q4_k", 24}, {"q6_k", 5}, {"f32", 21}}},
  };
  for (auto& w : wants) {
    GgufFile f(tiny_fixture_dir() + "/gguf/" + w.file);
    INFO(w.file);
    CHECK(gguf_type_counts(f) == w.counts);
    const ModelConfig c = gguf_model_config(f);
    CHECK(c.vocab_size == 8448);
    CHECK(c.hidden_size == 256);
    CHECK(c.intermediate_size == 768);
    CHECK(c.num_layers == 4);
    CHECK(c.num_heads == 4);
    CHECK(c.num_kv_heads == 2);
    CHECK(c.head_dim == 64);
    CHECK(c.rope_theta == 1e6);
    CHECK(c.rms_norm_eps == Approx(1e-6));
    CHECK(c.tie_word_embeddings);
    CHECK(c.attention_bias);
    CHECK(c.bos_token_id == 8192);
    CHECK(c.eos_token_id == 8194);
    const Tokenizer tok = gguf_tokenizer(f);
    CHECK(tok.vocab_size() == 8448);
    CHECK(tok.encode("<|im_start|>") == std::vector<int32_t>{8193});
    const std::string text = "The quick brown fox jumps over the lazy dog.";
    for (auto& s : reference_sequences())
      if (s.name == "text_en") CHECK(tok.encode(text) == s.ids);
  }
}
