// qbench logits: float32 logits of every position of a token sequence, as .npy,
// to compare a backend with another runtime.
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "engines/core/error.h"
#include "engines/registry/registry.h"
#include "harness/cli/args.h"
#include "harness/cli/commands.h"
#include "harness/measure/atomic_file.h"
#include "reports/npy_writer.h"

namespace qbench::cli {

namespace {

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    const long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end || v < 0 || v > INT32_MAX) throw Error("--tokens: '" + item + "' is not a token id");
    ids.push_back(int32_t(v));
  }
  if (ids.empty()) throw Error("--tokens needs at least one id");
  return ids;
}

}  // namespace

int cmd_logits(int argc, char** argv) {
  Args a(argc, argv, 2, {"model", "backend", "device", "tokens", "out", "kv-type", "threads"}, {"help"});
  if (a.flag("help")) {
    std::puts("qbench logits --model PATH [--backend B] --tokens 1,2,3 --out FILE.npy [--kv-type f32|f16] [--threads N]\n"
              "Writes float32 logits of shape [tokens, vocab]; row r predicts the token after position r.");
    return 0;
  }
  LoadOptions lo;
  lo.path = a.require("model");
  lo.backend = a.get("backend", "auto");
  lo.device = a.get("device", "cpu");
  lo.threads = int(a.get_int("threads", 0));
  const std::vector<int32_t> ids = parse_ids(a.require("tokens"));
  const std::string out = a.require("out");
  auto engine = load_engine(lo);
  Transformer& m = engine->model();
  Sequence seq = m.new_sequence(int64_t(ids.size()), parse_kv_type(a.get("kv-type", "f32")));
  std::vector<float> logits;
  m.forward(seq, ids.data(), int64_t(ids.size()), LogitsMode::All, logits);
  write_file_atomic(out, npy_float32(logits.data(), {int64_t(ids.size()), m.config().vocab_size}));
  std::fprintf(stderr, "qbench: wrote %s [%zu, %lld]\n", out.c_str(), ids.size(), (long long)m.config().vocab_size);
  return 0;
}

}  // namespace qbench::cli
