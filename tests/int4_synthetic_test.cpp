// Synthetic random-code GPTQ/AWQ checkpoints (`qbench fixture --format
// gptq-int4|awq-int4`): valid files the backends detect, load and run, with
// the int4 storage size the layout implies.
#include <catch2/catch.hpp>

#include <cmath>

#include "engines/formats/gptq_awq_synthetic.h"
#include "engines/model/shape_catalog.h"
#include "engines/registry/registry.h"
#include "tests/support/test_paths.h"

using namespace qbench;
using namespace qbench::test;

TEST_CASE("synthetic int4 checkpoints load and run", "[int4][gptq][awq][synthetic]") {
  const ModelConfig cfg = shape_config("tiny");
  for (auto fmt : {Int4FileFormat::Gptq, Int4FileFormat::Awq}) {
    SyntheticInt4Options o;
    o.out_dir = temp_dir("int4-synthetic");
    o.seed = 3;
    o.group_size = 64;
    write_synthetic_int4_checkpoint(cfg, fmt, o);
    const std::string want = fmt == Int4FileFormat::Gptq ? "gptq-int4" : "awq-int4";
    CHECK(detect_backend(o.out_dir) == want);
    LoadOptions lo;
    lo.path = o.out_dir;
    auto e = load_engine(lo);
    const auto& L = e->model().weights().layers[0];
    const int64_t h = cfg.hidden_size, ff = cfg.intermediate_size;
    // gate_proj [ff, h]: codes ff·round_up(h,128)/2 bytes + ff·(h/64) groups · 8 bytes.
    CHECK(L.gate->weight_bytes() == uint64_t(ff * ((h + 127) / 128 * 64) + ff * ((h + 63) / 64) * 8));
    CHECK(L.gate->kind() == (fmt == Int4FileFormat::Gptq ? "gptq-int4-g64" : "awq-int4-g64"));
    std::vector<int32_t> ids = {1, 2, 3, 4, 5};
    Sequence s = e->model().new_sequence(8, KvType::F32);
    std::vector<float> logits;
    e->model().forward(s, ids.data(), int64_t(ids.size()), LogitsMode::Last, logits);
    REQUIRE(int64_t(logits.size()) == cfg.vocab_size);
    CHECK(std::all_of(logits.begin(), logits.end(), [](float v) { return std::isfinite(v); }));
  }
}
