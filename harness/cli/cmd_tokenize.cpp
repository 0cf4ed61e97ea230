// qbench tokenize: the ids a model's tokenizer gives a text (TEXT argument or stdin, byte for byte).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engines/core/error.h"
#include "engines/registry/registry.h"
#include "harness/cli/args.h"
#include "harness/cli/commands.h"

namespace qbench::cli {

namespace {

Tokenizer model_tokenizer(const std::string& path) {
  if (std::filesystem::is_directory(path)) {
    const std::string t = find_tokenizer_json(path);
    if (t.empty()) throw Error(path + ": no tokenizer.json in the model directory");
    return Tokenizer::from_hf_json_file(t);
  }
  LoadOptions lo;  // single-file formats (GGUF) carry their tokenizer in the metadata
  lo.path = path;
  auto e = load_engine(lo);
  return e->tokenizer();
}

}  // namespace

int cmd_tokenize(int argc, char** argv) {
  Args a(argc, argv, 2, {"model", "tokenizer"}, {"chat", "json", "no-special", "help"});
  if (a.flag("help")) {
    std::puts("qbench tokenize (--model PATH | --tokenizer tokenizer.json) [--chat] [--json] [--no-special] [TEXT]\n"
              "TEXT defaults to standard input, read byte for byte.");
    return 0;
  }
  if (a.has("model") == a.has("tokenizer")) throw Error("give exactly one of --model or --tokenizer");
  const Tokenizer tok = a.has("model") ? model_tokenizer(a.get("model")) : Tokenizer::from_hf_json_file(a.get("tokenizer"));
  std::string text;
  if (!a.positional().empty()) {
    if (a.positional().size() > 1) throw Error("give the text as one argument (quote it) or on stdin");
    text = a.positional()[0];
  } else {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    text = ss.str();
  }
  if (a.flag("chat")) text = apply_chatml({{"user", text}}, /*add_generation_prompt=*/true);
  const std::vector<int32_t> ids = tok.encode(text, !a.flag("no-special"));
  if (a.flag("json")) {
    std::cout << nlohmann::json(ids).dump() << "\n";
  } else {
    for (int32_t id : ids) std::cout << id << "\n";
  }
  return 0;
}

}  // namespace qbench::cli
