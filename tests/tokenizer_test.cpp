// Tokenizer tests: bit-exactness against Hugging Face on the reference vectors in ../shared, plus the
// rules (added tokens, ignore_merges, errors) on small hand-made tokenizers.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

#include "datasets/tokenizer/tokenizer.h"
#include "tests/support/test_paths.h"

using qbench::ChatMessage;
using qbench::Tokenizer;

namespace {

const char* kQwenJson = "tokenizers/qwen2.5/tokenizer.json";
const char* kVectorsIn = "tokenizers/qwen2.5/vectors/qwen2.inp";
const char* kVectorsOut = "tokenizers/qwen2.5/vectors/qwen2.out";
const char* kTinyJson = "fixtures/tiny-qwen2/hf-fp16/tokenizer.json";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string shared(const std::string& rel) { return qbench::test::shared_dir() + "/" + rel; }

std::string ids_str(const std::vector<int32_t>& ids) {
  std::ostringstream s;
  s << '[';
  for (size_t i = 0; i < ids.size(); ++i) s << (i ? " " : "") << ids[i];
  s << ']';
  return s.str();
}

struct Vector {
  std::string text;
  std::vector<int32_t> ids;
};

// qwen2.inp: each string followed by "\n__ggml_vocab_test__\n"; qwen2.out: one line of ids per string.
std::vector<Vector> load_vectors() {
  const std::string inp = read_file(shared(kVectorsIn));
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<Vector> v;
  for (size_t pos = 0;;) {
    size_t next = inp.find(sep, pos);
    if (next == std::string::npos) break;
    v.push_back({inp.substr(pos, next - pos), {}});
    pos = next + sep.size();
  }
  std::istringstream out(read_file(shared(kVectorsOut)));
  std::string line;
  for (auto& vec : v) {
    REQUIRE(std::getline(out, line));
    std::istringstream ls(line);
    for (int32_t id; ls >> id;) vec.ids.push_back(id);
  }
  return v;
}

// The 11 MB tokenizer takes a moment to load: load it once per test run.
const Tokenizer& qwen() {
  static const Tokenizer t = Tokenizer::from_hf_json_file(shared(kQwenJson));
  return t;
}

const Tokenizer& tiny() {
  static const Tokenizer t = Tokenizer::from_hf_json_file(shared(kTinyJson));
  return t;
}

// Checks every vector, reporting each failing one with its text and both id lists; returns how many pass.
int check_vectors(const Tokenizer& tok, const std::vector<Vector>& vectors) {
  int pass = 0;
  for (size_t i = 0; i < vectors.size(); ++i) {
    const auto got = tok.encode(vectors[i].text);
    if (got == vectors[i].ids) {
      ++pass;
    } else {
      FAIL_CHECK("vector " << i << " \"" << vectors[i].text << "\"\n  expected " << ids_str(vectors[i].ids)
                           << "\n  got      " << ids_str(got));
    }
  }
  return pass;
}

// A small byte-level tokenizer.json, written out so that single rules can be tested in isolation.
std::string mini_json(bool ignore_merges, const std::string& added_tokens_json) {
  return R"({"version":"1.0","normalizer":null,
    "pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false},
    "decoder":{"type":"ByteLevel"},
    "added_tokens":)" + added_tokens_json + R"(,
    "model":{"type":"BPE","ignore_merges":)" + (ignore_merges ? "true" : "false") + R"(,
      "vocab":{"a":0,"b":1,"c":2,"ab":3,"abc":5,"Ġ":6},
      "merges":["a b"]}})";
}

}  // namespace

TEST_CASE("Qwen2.5 tokenizer encodes the 46 reference vectors exactly", "[tokenizer]") {
  if (!qbench::test::require_shared(kVectorsIn) || !qbench::test::require_shared(kQwenJson)) return;
  const auto vectors = load_vectors();
  REQUIRE(vectors.size() == 46);
  const int pass = check_vectors(qwen(), vectors);
  INFO(pass << " of " << vectors.size() << " vectors match");
  CHECK(pass == 46);
}

TEST_CASE("decode(encode(s)) gives back every reference vector", "[tokenizer]") {
  if (!qbench::test::require_shared(kVectorsIn) || !qbench::test::require_shared(kQwenJson)) return;
  for (const auto& v : load_vectors()) {
    INFO("text \"" << v.text << "\"");
    CHECK(qwen().decode(qwen().encode(v.text)) == v.text);
    CHECK(qwen().decode(v.ids) == v.text);
  }
}

TEST_CASE("special tokens are split out before BPE, or kept as text", "[tokenizer]") {
  if (!qbench::test::require_shared(kQwenJson)) return;
  const Tokenizer& tok = qwen();
  REQUIRE(tok.token_id("<|im_start|>") == 151644);
  REQUIRE(tok.token_id("<|im_end|>") == 151645);
  CHECK(tok.token_id("<|endoftext|>") == 151643);
  CHECK(tok.token_id("Ġthe") == 279);
  CHECK_FALSE(tok.token_id("no such token").has_value());
  CHECK(tok.is_special(151644));
  CHECK_FALSE(tok.is_special(279));
  CHECK(tok.vocab_size() == 151669);  // Qwen3's 4 extra added tokens reach 151668

  const std::string text = "<|im_start|>user\nhi<|im_end|>\n";
  std::vector<int32_t> expected = {151644};
  for (int32_t id : tok.encode("user\nhi")) expected.push_back(id);
  expected.push_back(151645);
  expected.push_back(198);  // "\n"
  const auto ids = tok.encode(text);
  CHECK(ids == expected);
  CHECK(tok.decode(ids) == text);
  CHECK(tok.token_to_piece(151644) == "<|im_start|>");

  SECTION("parse_special=false treats them as text") {
    const auto plain = tok.encode(text, false);
    for (int32_t id : plain) CHECK(id < 151643);
    CHECK(tok.decode(plain) == text);
    CHECK(plain.size() > ids.size());
  }
  SECTION("a special token inside a word still splits it") {
    const auto mid = tok.encode("ab<|endoftext|>cd");
    REQUIRE(mid.size() >= 3);
    CHECK(std::count(mid.begin(), mid.end(), 151643) == 1);
    CHECK(tok.decode(mid) == "ab<|endoftext|>cd");
  }
}

TEST_CASE("one tokenizer encodes from several threads at once", "[tokenizer]") {
  if (!qbench::test::require_shared(kVectorsIn) || !qbench::test::require_shared(kTinyJson)) return;
  const auto vectors = load_vectors();
  // A fresh copy of the tiny tokenizer, so that all threads fill its word cache together.
  const Tokenizer tok = Tokenizer::from_hf_json_file(shared(kTinyJson));
  std::vector<std::vector<int32_t>> expected;
  for (const auto& v : vectors) expected.push_back(tiny().encode(v.text));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round)
        for (size_t i = 0; i < vectors.size(); ++i)
          if (tok.encode(vectors[(i + t * 7) % vectors.size()].text) != expected[(i + t * 7) % vectors.size()])
            ++mismatches[t];
    });
  for (auto& th : threads) th.join();
  CHECK(mismatches == std::vector<int>(4, 0));
}

TEST_CASE("NFC normalization applies to text, and invalid UTF-8 is refused", "[tokenizer]") {
  if (!qbench::test::require_shared(kQwenJson)) return;
  // "e" + COMBINING ACUTE ACCENT composes to "é" before BPE.
  CHECK(qwen().encode("caf\x65\xCC\x81") == qwen().encode("caf\xC3\xA9"));
  CHECK_THROWS_AS(qwen().encode("abc\xFF"), std::invalid_argument);
  CHECK_THROWS_AS(qwen().encode("\xC0\xAF"), std::invalid_argument);  // overlong '/'
  CHECK(qwen().encode("").empty());
}

TEST_CASE("chat template writes Qwen2.5's ChatML", "[tokenizer]") {
  const std::vector<ChatMessage> user_only = {{"user", "Hi there"}};
  CHECK(qbench::apply_chatml(user_only, true) ==
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n");
  CHECK(qbench::apply_chatml(user_only, false, "") == "<|im_start|>user\nHi there<|im_end|>\n");

  const std::vector<ChatMessage> convo = {
      {"system", "Be brief."}, {"user", "2+2?"}, {"assistant", "4"}, {"user", "And 3+3?"}};
  CHECK(qbench::apply_chatml(convo, true) ==
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
        "<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n");

  // Consecutive tool results share one user turn, as the Jinja template writes them.
  const std::vector<ChatMessage> tools = {{"user", "q"}, {"tool", "r1"}, {"tool", "r2"}};
  CHECK(qbench::apply_chatml(tools, false, "") ==
        "<|im_start|>user\nq<|im_end|>\n<|im_start|>user\n<tool_response>\nr1\n</tool_response>"
        "\n<tool_response>\nr2\n</tool_response><|im_end|>\n");
}

TEST_CASE("tiny-qwen2 tokenizer matches the fixture's reference ids", "[tokenizer]") {
  if (!qbench::test::require_shared(kTinyJson) ||
      !qbench::test::require_shared("fixtures/tiny-qwen2/reference/tokens.json"))
    return;
  const auto doc = nlohmann::json::parse(read_file(shared("fixtures/tiny-qwen2/reference/tokens.json")));
  int checked = 0;
  for (const auto& seq : doc["sequences"]) {
    if (!seq.contains("text")) continue;  // the random sequences have no text
    const std::string text = seq["text"].get<std::string>();
    const auto expected = seq["ids"].get<std::vector<int32_t>>();
    INFO(seq["name"].get<std::string>() << ": \"" << text << "\"");
    CHECK(ids_str(tiny().encode(text)) == ids_str(expected));
    CHECK(tiny().decode(expected) == text);
    ++checked;
  }
  CHECK(checked == 2);  // text_en and text_zh
  CHECK(tiny().vocab_size() == 8195);
  CHECK(tiny().token_to_piece(8300).empty());  // an id the model has but the tokenizer does not

  // summary.json lists seven more strings checked against transformers, the last one a ChatML prompt.
  if (!qbench::test::require_shared("fixtures/tiny-qwen2/reference/summary.json")) return;
  const auto summary = nlohmann::json::parse(read_file(shared("fixtures/tiny-qwen2/reference/summary.json")));
  const auto& texts = summary["tokenizer"]["texts"];
  const auto& ids = summary["tokenizer"]["ids"];
  REQUIRE(texts.size() == ids.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string text = texts[i].get<std::string>();
    INFO("summary text " << i << ": \"" << text << "\"");
    CHECK(ids_str(tiny().encode(text)) == ids_str(ids[i].get<std::vector<int32_t>>()));
  }
  CHECK(qbench::apply_chatml({{"user", "Hi there"}}, true, "") == texts.back().get<std::string>());
}

TEST_CASE("from_vocab on GGUF-style metadata equals from_hf_json", "[tokenizer]") {
  if (!qbench::test::require_shared(kTinyJson) || !qbench::test::require_shared(kVectorsIn)) return;
  // Rebuild the tiny model's GGUF tokenizer arrays as its README describes them: 8192 normal tokens,
  // 3 control tokens, [PAD8195]..[PAD8447] unused; merges as "a b".
  const auto doc = nlohmann::json::parse(read_file(shared(kTinyJson)));
  std::vector<std::string> tokens(8448);
  std::vector<int32_t> types(8448, 1);
  for (const auto& [text, id] : doc["model"]["vocab"].items()) tokens.at(id.get<size_t>()) = text;
  for (const auto& t : doc["added_tokens"]) {
    tokens.at(t["id"].get<size_t>()) = t["content"].get<std::string>();
    types.at(t["id"].get<size_t>()) = 3;
  }
  for (int32_t id = 8195; id < 8448; ++id) {
    tokens[id] = "[PAD" + std::to_string(id) + "]";
    types[id] = 5;
  }
  std::vector<std::string> merges;
  for (const auto& m : doc["model"]["merges"])
    merges.push_back(m.is_string() ? m.get<std::string>()
                                   : m[0].get<std::string>() + " " + m[1].get<std::string>());
  REQUIRE(merges.size() == 7936);

  const Tokenizer gguf = Tokenizer::from_vocab(tokens, merges, types, "qwen2");
  CHECK(gguf.vocab_size() == 8448);
  CHECK(gguf.is_special(8193));
  CHECK(gguf.token_to_piece(8300).empty());

  std::vector<std::string> texts = {"<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
                                    "The quick brown fox jumps over the lazy dog."};
  for (const auto& v : load_vectors()) texts.push_back(v.text);
  for (const auto& text : texts) {
    INFO("text \"" << text << "\"");
    const auto ids = tiny().encode(text);
    CHECK(ids_str(gguf.encode(text)) == ids_str(ids));
    CHECK(gguf.encode(text, false) == tiny().encode(text, false));
    CHECK(gguf.decode(ids) == text);
  }
  CHECK_THROWS_WITH(Tokenizer::from_vocab(tokens, merges, types, "no-such-pre"),
                    Catch::Contains("no-such-pre"));
}

TEST_CASE("bundled third_party Qwen2.5 tokenizer encodes the vectors too", "[tokenizer]") {
  const std::string path = qbench::bundled_qwen_tokenizer_path(qbench::test::repo_root());
  if (path.empty()) {
    WARN("SKIPPED: third_party/qwen2.5-tokenizer/tokenizer.json absent (run scripts/setup.sh)");
    return;
  }
  if (!qbench::test::require_shared(kVectorsIn)) return;
  const Tokenizer tok = Tokenizer::from_hf_json_file(path);
  CHECK(check_vectors(tok, load_vectors()) == 46);
  CHECK(qbench::find_tokenizer_json(qbench::test::repo_root() + "/third_party/qwen2.5-tokenizer") == path);
}

TEST_CASE("added-token rules and ignore_merges on a hand-made tokenizer", "[tokenizer]") {
  // "abc" is in the vocab but no merge builds it: only ignore_merges reaches it in one piece.
  const Tokenizer plain = Tokenizer::from_hf_json_text(mini_json(false, "[]"), "mini");
  const Tokenizer direct = Tokenizer::from_hf_json_text(mini_json(true, "[]"), "mini");
  CHECK(plain.encode("abc") == std::vector<int32_t>{3, 2});
  CHECK(direct.encode("abc") == std::vector<int32_t>{5});
  CHECK(plain.vocab_size() == 7);
  CHECK(plain.decode({3, 6, 2}) == "ab c");

  const Tokenizer added = Tokenizer::from_hf_json_text(mini_json(false, R"([
      {"id":10,"content":"<x>","special":true,"normalized":false,"lstrip":true,"rstrip":true,"single_word":false},
      {"id":11,"content":"ba","special":false,"normalized":false,"lstrip":false,"rstrip":false,"single_word":true},
      {"id":12,"content":"<x>>","special":true,"normalized":false,"lstrip":false,"rstrip":false,"single_word":false}])"),
                                                       "mini");
  CHECK(added.encode("a <x> b") == std::vector<int32_t>{0, 10, 1});     // both spaces swallowed
  CHECK(added.encode("c ba", false) == std::vector<int32_t>{2, 6, 11});  // non-special ones still match
  // Unparsed, "<x>" is text; its bytes have no symbol in this vocab and are dropped, as HF drops them.
  CHECK(added.encode("a<x>b", false) == std::vector<int32_t>{3});
  CHECK(added.encode("a<x>>b") == std::vector<int32_t>{0, 12, 1});      // longest match wins
  CHECK(added.encode("ba") == std::vector<int32_t>{11});
  CHECK(added.encode("c ba") == std::vector<int32_t>{2, 6, 11});
  CHECK(added.encode("aba") == std::vector<int32_t>{3, 0});             // inside a word: not matched
  CHECK(added.decode({0, 10, 1}) == "a<x>b");
  CHECK_FALSE(added.is_special(11));
  CHECK(added.is_special(10));
}

TEST_CASE("malformed tokenizer.json files are refused with the file named", "[tokenizer]") {
  const std::string dir = qbench::test::temp_dir("tokenizer");
  auto write = [&](const std::string& name, const std::string& body) {
    const std::string path = dir + "/" + name;
    std::ofstream(path) << body;
    return path;
  };
  const std::string broken = write("broken.json", "{\"model\": {\"vocab\": ");
  CHECK_THROWS_WITH(Tokenizer::from_hf_json_file(broken), Catch::Contains(broken));
  const std::string no_vocab = write("novocab.json", R"({"model":{"type":"BPE","merges":[]}})");
  CHECK_THROWS_WITH(Tokenizer::from_hf_json_file(no_vocab),
                    Catch::Contains(no_vocab) && Catch::Contains("model.vocab"));
  const std::string no_merges = write("nomerges.json", R"({"model":{"type":"BPE","vocab":{"a":0}}})");
  CHECK_THROWS_WITH(Tokenizer::from_hf_json_file(no_merges), Catch::Contains("model.merges"));
  const std::string bad_merge = write("badmerge.json", mini_json(false, "[]").replace(
                                                           mini_json(false, "[]").find("\"a b\""), 5, "\"a z\""));
  CHECK_THROWS_WITH(Tokenizer::from_hf_json_file(bad_merge), Catch::Contains(bad_merge) && Catch::Contains("\"z\""));
  CHECK_THROWS_WITH(Tokenizer::from_hf_json_file(dir + "/missing.json"), Catch::Contains("missing.json"));
  CHECK_THROWS_AS(Tokenizer::from_hf_json_text("[1, 2]", "inline"), std::runtime_error);

  CHECK(qbench::find_tokenizer_json(dir).empty());
  const std::string tj = write("tokenizer.json", mini_json(false, "[]"));
  CHECK(qbench::find_tokenizer_json(dir) == tj);
  CHECK(qbench::find_tokenizer_json(broken) == tj);  // a file inside the model folder
  CHECK(qbench::bundled_qwen_tokenizer_path(dir).empty());
}

TEST_CASE("long words and long whitespace runs stay fast", "[tokenizer]") {
  if (!qbench::test::require_shared(kQwenJson)) return;
  const auto t0 = std::chrono::steady_clock::now();
  for (const std::string& text :
       {std::string(200000, 'a'), std::string(200000, ' '), std::string(100000, '\n') + "x",
        std::string(50000, '7'), [] { std::string s; for (int i = 0; i < 30000; ++i) s += "\xE4\xBD\xA0"; return s; }()}) {
    CHECK(qwen().decode(qwen().encode(text)) == text);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(s < 10.0);  // catches quadratic behaviour, not a benchmark
}

TEST_CASE("encode throughput (informal)", "[.][tokenizer-speed]") {
  if (!qbench::test::require_shared(kQwenJson) || !qbench::test::require_shared(kVectorsIn)) return;
  const Tokenizer& tok = qwen();
  // ~1 MB of text made of random vocabulary pieces: many distinct words, so the word cache helps little.
  std::mt19937 rng(42);
  std::string text;
  while (text.size() < (1 << 20)) {
    const std::string piece = tok.token_to_piece(static_cast<int32_t>(rng() % 151643));
    if (!piece.empty() && (static_cast<unsigned char>(piece[0]) < 0x80 || rng() % 8 == 0)) text += piece;
  }
  // Random pieces can split a UTF-8 character; keep the text valid by re-decoding the encoded vectors.
  std::string valid;
  for (size_t i = 0; i < text.size();) {
    unsigned char c = text[i];
    size_t len = c < 0x80 ? 1 : c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
    bool ok = len > 0 && i + len <= text.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    if (ok) valid.append(text, i, len);
    i += ok ? len : 1;
  }
  auto run = [&](const std::string& t, const char* what) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto ids = tok.encode(t);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    WARN(what << ": " << t.size() / 1e6 << " MB -> " << ids.size() << " ids in " << s * 1e3 << " ms = "
              << t.size() / 1e6 / s << " MB/s");
  };
  run(valid, "random vocabulary pieces");
  std::string vectors;
  while (vectors.size() < (1 << 20))
    for (const auto& v : load_vectors()) vectors += v.text + "\n";
  run(vectors, "reference vectors repeated");
}
