// The safetensors reader on good files and on every kind of corruption the
// header can carry: each gives one clear qbench::Error naming the file, never a crash.
#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engines/core/error.h"
#include "engines/core/half.h"
#include "engines/formats/hf_checkpoint.h"
#include "engines/formats/safetensors.h"
#include "engines/formats/safetensors_writer.h"
#include "tests/support/test_paths.h"

using namespace qbench;

namespace {

std::string write_raw(const std::string& path, const std::string& header, const std::string& data, int64_t len_override = -1) {
  std::ofstream f(path, std::ios::binary);
  const uint64_t n = len_override >= 0 ? uint64_t(len_override) : header.size();
  f.write(reinterpret_cast<const char*>(&n), 8);
  f << header << data;
  return path;
}

std::string ok_header() {
  return R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F16","shape":[2,3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})";
}

void expect_error(const std::string& path, const std::string& fragment) {
  try {
    SafetensorsFile f(path);
    FAIL("no error for " << path);
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find(path) != std::string::npos);
    CHECK(msg.find(fragment) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("safetensors: a valid file reads back exactly", "[safetensors]") {
  const std::string d = test::temp_dir("st");
  std::string data(20, '\0');
  const uint16_t h[6] = {f32_to_f16(1), f32_to_f16(-2), f32_to_f16(0.5f), 0, 0x3c00, 0x7bff};
  std::memcpy(data.data(), h, 12);
  const float b[2] = {3.25f, -1.f};
  std::memcpy(data.data() + 12, b, 8);
  SafetensorsFile f(write_raw(d + "/ok.safetensors", ok_header(), data));
  REQUIRE(f.names().size() == 2);
  const TensorRef* a = f.find("a");
  REQUIRE(a);
  CHECK(a->dtype == DType::F16);
  CHECK(a->shape == std::vector<int64_t>{2, 3});
  CHECK(f16_to_f32(static_cast<const uint16_t*>(a->data)[1]) == -2.f);
  CHECK(static_cast<const float*>(f.find("b")->data)[0] == 3.25f);
  CHECK(f.metadata().at("format") == "pt");
  CHECK(f.find("missing") == nullptr);
}

TEST_CASE("safetensors: corrupted inputs give clear errors", "[safetensors]") {
  const std::string d = test::temp_dir("stbad");
  const std::string data(20, '\0');

  SECTION("file shorter than the length prefix") {
    std::ofstream(d + "/short.safetensors") << "abc";
    expect_error(d + "/short.safetensors", "truncated");
  }
  SECTION("header length beyond the file") {
    expect_error(write_raw(d + "/hl.safetensors", ok_header(), data, 1 << 20), "past the end");
  }
  SECTION("header length over the 100 MB limit") {
    expect_error(write_raw(d + "/huge.safetensors", ok_header(), data, int64_t(1) << 40), "100 MB");
  }
  SECTION("truncated data: offsets past EOF") {
    expect_error(write_raw(d + "/trunc.safetensors", ok_header(), data.substr(0, 15)), "past the end");
  }
  SECTION("dtype and shape disagree with the byte span") {
    std::string h = ok_header();
    h.replace(h.find("[2,3]"), 5, "[2,4]");
    expect_error(write_raw(d + "/shape.safetensors", h, data), "needs 16 bytes");
  }
  SECTION("unknown dtype") {
    std::string h = ok_header();
    h.replace(h.find("\"F32\""), 5, "\"Q99\"");
    expect_error(write_raw(d + "/dtype.safetensors", h, data), "unknown dtype 'Q99'");
  }
  SECTION("overlapping tensors") {
    std::string h = R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})";
    expect_error(write_raw(d + "/overlap.safetensors", h, data), "overlap");
  }
  SECTION("non-UTF-8 tensor name") {
    std::string h = ok_header();
    h.replace(h.find("\"a\""), 3, "\"\xff\xfe\"");
    expect_error(write_raw(d + "/utf8.safetensors", h, data), "malformed safetensors header");
  }
  SECTION("header is not JSON") {
    expect_error(write_raw(d + "/json.safetensors", "{not json at all}", data), "malformed");
  }
  SECTION("begin after end") {
    std::string h = R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})";
    expect_error(write_raw(d + "/order.safetensors", h, data), "begin > end");
  }
  SECTION("negative dimension") {
    std::string h = R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})";
    expect_error(write_raw(d + "/neg.safetensors", h, data), "non-negative");
  }
  SECTION("shape product overflows") {
    std::string h = R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}})";
    expect_error(write_raw(d + "/ovf.safetensors", h, data), "overflow");
  }
}

TEST_CASE("safetensors writer round-trips, single and sharded", "[safetensors]") {
  const std::string d = test::temp_dir("stw");
  std::vector<TensorToWrite> ts;
  for (int i = 0; i < 3; ++i)
    ts.push_back({"t" + std::to_string(i), DType::F32, {4, 8}, [i](uint8_t* dst, uint64_t n) {
                    for (uint64_t k = 0; k < n / 4; ++k) reinterpret_cast<float*>(dst)[k] = float(i * 1000 + int(k));
                  }});
  auto files = write_safetensors_checkpoint(d, ts, {{"format", "pt"}}, 200);  // 128 bytes per tensor -> 3 shards
  REQUIRE(files.size() == 4);
  std::ofstream(d + "/config.json") << R"({"architectures":["Qwen2ForCausalLM"],"vocab_size":8,"hidden_size":8,
    "intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":2,"num_key_value_heads":1,"max_position_embeddings":16})";
  HfCheckpoint ck(d);
  CHECK(ck.shards().size() == 3);
  const TensorRef& t2 = ck.require("t2");
  CHECK(static_cast<const float*>(t2.data)[5] == 2005.f);
  CHECK_THROWS_WITH(ck.require("nope"), Catch::Contains("nope"));
}

TEST_CASE("sharded index naming a missing tensor is an error", "[safetensors]") {
  const std::string d = test::temp_dir("stidx");
  std::vector<TensorToWrite> ts = {{"x", DType::F32, {2}, [](uint8_t* p, uint64_t n) { std::memset(p, 0, n); }}};
  write_safetensors_checkpoint(d, ts, {}, 1 << 20);
  std::ofstream(d + "/config.json") << R"({"architectures":["Qwen2ForCausalLM"],"vocab_size":8,"hidden_size":8,
    "intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":2,"max_position_embeddings":16})";
  std::ofstream(d + "/model.safetensors.index.json") << R"({"weight_map":{"x":"model.safetensors","y":"model.safetensors"}})";
  CHECK_THROWS_WITH(HfCheckpoint(d), Catch::Contains("'y'"));
  std::ofstream(d + "/model.safetensors.index.json") << R"({"weight_map":{"x":"../etc/passwd"}})";
  CHECK_THROWS_WITH(HfCheckpoint(d), Catch::Contains("plain file name"));
}
