#include "datasets/tokenizer/hf_json.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "datasets/tokenizer/pretokenizer.h"
#include "datasets/tokenizer/tokenizer.h"

namespace qbench::tok {
namespace {

using nlohmann::json;

struct Parser {
  const std::string& where;
  TokenizerSpec& spec;
  bool byte_level = false;

  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("tokenizer: " + where + ": " + what);
  }

  static bool flag(const json& obj, const char* key, bool fallback) {
    auto it = obj.find(key);
    return it != obj.end() && it->is_boolean() ? it->get<bool>() : fallback;
  }

  std::string type_of(const json& obj, const std::string& context) const {
    if (!obj.is_object() || !obj.contains("type") || !obj["type"].is_string()) fail(context + " has no \"type\"");
    return obj["type"].get<std::string>();
  }

  void normalizer(const json& n) {
    if (n.is_null()) return;
    const std::string type = type_of(n, "normalizer");
    if (type == "Sequence") {
      if (!n.contains("normalizers") || !n["normalizers"].is_array()) fail("normalizer Sequence without a list");
      for (const auto& item : n["normalizers"]) normalizer(item);
    } else if (type == "NFC") {
      spec.normalizer.steps.push_back(NormalForm::NFC);
    } else if (type == "NFD") {
      spec.normalizer.steps.push_back(NormalForm::NFD);
    } else if (type == "NFKC") {
      spec.normalizer.steps.push_back(NormalForm::NFKC);
    } else if (type == "NFKD") {
      spec.normalizer.steps.push_back(NormalForm::NFKD);
    } else {
      fail("unsupported normalizer \"" + type + "\"");
    }
  }

  void set_split(std::string pattern) {
    if (spec.split_pattern) fail("more than one regex split in the pre-tokenizer is not supported");
    spec.split_pattern = std::move(pattern);
  }

  static std::string regex_quote(const std::string& literal) {
    std::string out;
    for (char c : literal) {
      if (static_cast<unsigned char>(c) < 0x80 && !std::isalnum(static_cast<unsigned char>(c))) out += '\\';
      out += c;
    }
    return out;
  }

  void pre_tokenizer(const json& p) {
    if (p.is_null()) return;
    const std::string type = type_of(p, "pre_tokenizer");
    if (type == "Sequence") {
      if (!p.contains("pretokenizers") || !p["pretokenizers"].is_array())
        fail("pre_tokenizer Sequence without a list");
      for (const auto& item : p["pretokenizers"]) pre_tokenizer(item);
    } else if (type == "Split") {
      if (byte_level) fail("a Split after ByteLevel is not supported");
      const json& pat = p.value("pattern", json());
      if (pat.contains("Regex") && pat["Regex"].is_string())
        set_split(pat["Regex"].get<std::string>());
      else if (pat.contains("String") && pat["String"].is_string())
        set_split(regex_quote(pat["String"].get<std::string>()));
      else
        fail("Split pre-tokenizer without a pattern");
      if (p.value("behavior", std::string("Isolated")) != "Isolated" || flag(p, "invert", false))
        fail("only Split with behavior Isolated and invert false is supported");
    } else if (type == "ByteLevel") {
      if (flag(p, "add_prefix_space", false)) fail("ByteLevel with add_prefix_space is not supported");
      if (flag(p, "use_regex", true)) set_split(kGpt2SplitPattern);
      byte_level = true;
    } else {
      fail("unsupported pre_tokenizer \"" + type + "\"");
    }
  }

  int32_t id_value(const json& v, const std::string& context) const {
    if (!v.is_number_integer()) fail(context + ": id is not an integer");
    const auto id = v.get<int64_t>();
    if (id < 0 || id > INT32_MAX) fail(context + ": id " + std::to_string(id) + " out of range");
    return static_cast<int32_t>(id);
  }

  void model(const json& m) {
    if (!m.is_object()) fail("missing \"model\"");
    if (m.contains("type") && m["type"] != "BPE") fail("model type " + m["type"].dump() + " is not BPE");
    if (!m.contains("vocab") || !m["vocab"].is_object()) fail("missing model.vocab");
    if (!m.contains("merges") || !m["merges"].is_array()) fail("missing model.merges");
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
      if (m.contains(key) && m[key].is_string() && !m[key].get<std::string>().empty())
        fail(std::string("model.") + key + " is not supported");

    spec.vocab.reserve(m["vocab"].size());
    for (const auto& [token, id] : m["vocab"].items()) spec.vocab.emplace(token, id_value(id, "model.vocab"));

    spec.merges.reserve(m["merges"].size());
    size_t rank = 0;
    for (const auto& merge : m["merges"]) {
      // Older files write "a b"; newer ones ["a", "b"] (which allows spaces inside the parts).
      if (merge.is_string()) {
        const auto s = merge.get<std::string>();
        const size_t space = s.find(' ', 1);
        if (space == std::string::npos) fail("model.merges[" + std::to_string(rank) + "] is not \"a b\"");
        spec.merges.emplace_back(s.substr(0, space), s.substr(space + 1));
      } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
        spec.merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
      } else {
        fail("model.merges[" + std::to_string(rank) + "] is neither \"a b\" nor [a, b]");
      }
      ++rank;
    }
    spec.ignore_merges = flag(m, "ignore_merges", false);
  }

  void added_tokens(const json& list) {
    if (list.is_null()) return;
    if (!list.is_array()) fail("added_tokens is not a list");
    for (const auto& t : list) {
      if (!t.is_object() || !t.contains("content") || !t["content"].is_string() || !t.contains("id"))
        fail("added_tokens entry without id/content");
      AddedToken a;
      a.id = id_value(t["id"], "added_tokens");
      a.content = t["content"].get<std::string>();
      a.special = flag(t, "special", false);
      a.normalized = flag(t, "normalized", !a.special);  // HF's default when the key is missing
      a.lstrip = flag(t, "lstrip", false);
      a.rstrip = flag(t, "rstrip", false);
      a.single_word = flag(t, "single_word", false);
      spec.added_tokens.push_back(std::move(a));
    }
  }
};

}  // namespace

TokenizerSpec parse_hf_tokenizer_json(const std::string& text, const std::string& where) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    throw std::runtime_error("tokenizer: " + where + ": not valid JSON: " + e.what());
  }
  TokenizerSpec spec;
  spec.source = where;
  Parser p{where, spec};
  if (!doc.is_object()) p.fail("not a JSON object");
  try {
    p.model(doc.value("model", json()));
    p.normalizer(doc.value("normalizer", json()));
    p.pre_tokenizer(doc.value("pre_tokenizer", json()));
    p.added_tokens(doc.value("added_tokens", json()));
  } catch (const json::exception& e) {  // a field of an unexpected JSON type
    p.fail(std::string("unexpected JSON content: ") + e.what());
  }
  if (!p.byte_level) p.fail("not a byte-level BPE tokenizer (no ByteLevel pre-tokenizer)");
  return spec;
}

}  // namespace qbench::tok

namespace qbench {

Tokenizer Tokenizer::from_hf_json_text(const std::string& text, const std::string& where) {
  return from_spec(tok::parse_hf_tokenizer_json(text, where));
}

Tokenizer Tokenizer::from_hf_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("tokenizer: cannot open " + path);
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw std::runtime_error("tokenizer: cannot read " + path);
  return from_hf_json_text(buf.str(), path);
}

}  // namespace qbench
