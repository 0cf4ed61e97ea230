// Perplexity windows and statistics, the top-k logits file, and KL divergence:
// against a hand computation, against itself (0), and FP16 vs Q8_0 of tiny-qwen2.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <iterator>

#include "engines/core/error.h"
#include "engines/registry/registry.h"
#include "tests/support/reference_fixture.h"
#include "tests/support/test_paths.h"
#include "workloads/kl_divergence.h"
#include "workloads/perplexity.h"

using namespace qbench;

namespace {

// Logits depend only on the position: row[p % vocab] = 2 at position p.
class PositionStub : public McLogitsModel {
 public:
  int64_t vocab_size() const override { return 8; }
  int64_t context_length() const override { return 64; }
  void logits(const std::vector<int32_t>& tokens, int64_t from, std::vector<float>& out) override {
    REQUIRE(int64_t(tokens.size()) <= 64);
    out.assign(size_t(int64_t(tokens.size()) - from) * 8, 0.f);
    for (int64_t p = from; p < int64_t(tokens.size()); ++p) out[size_t(p - from) * 8 + size_t(tokens[size_t(p)])] = 2.f;
    evaluated_ += int64_t(tokens.size());
  }
  int64_t tokens_evaluated() const override { return evaluated_; }

 private:
  int64_t evaluated_ = 0;
};

}  // namespace

// With stride < ctx every token after the first is scored exactly once; with stride == ctx
// (plain chunks) the first token of each chunk has no context and is not scored, as in
// transformers' guide and llama.cpp.
TEST_CASE("perplexity windows score each token at most once, all of them when stride < ctx", "[perplexity]") {
  for (auto [n, ctx, stride] : std::vector<std::array<int64_t, 3>>{{100, 16, 16}, {100, 16, 8}, {17, 16, 5}, {5, 16, 16}}) {
    const auto w = ppl_windows(n, ctx, stride);
    std::vector<int> seen(size_t(n), 0);
    int64_t until = 0;
    for (auto [b, e] : w) {
      CHECK(e - b <= ctx);
      for (int64_t t = std::max(b + 1, until + 1); t < e; ++t) seen[size_t(t)]++;
      until = e - 1;
    }
    INFO("n " << n << " ctx " << ctx << " stride " << stride);
    CHECK(seen[0] == 0);
    for (int64_t t = 1; t < n; ++t) CHECK(seen[size_t(t)] == (stride == ctx && t % ctx == 0 ? 0 : 1));
  }
  CHECK_THROWS_AS(ppl_windows(10, 8, 9), Error);
  CHECK_THROWS_AS(ppl_windows(10, 1, 1), Error);
}

TEST_CASE("perplexity of a stub model equals the hand-computed value", "[perplexity]") {
  // The stub puts logit 2 on the token it was fed, so it predicts "repeat the last token".
  // Text 0 0 0 1 1 2: predictions for tokens 1..5: hit, hit, miss, hit, miss.
  PositionStub m;
  const std::vector<int32_t> text = {0, 0, 0, 1, 1, 2};
  PplParams p;
  p.ctx = 4;
  p.stride = 2;
  p.progress = false;
  const PplResult r = run_perplexity(m, text, p);
  const double lz = std::log(7 + std::exp(2.0));
  const double hit = lz - 2, miss = lz;
  CHECK(r.scored == 5);
  CHECK(r.mean_nll == Approx((3 * hit + 2 * miss) / 5));
  CHECK(r.ppl == Approx(std::exp((3 * hit + 2 * miss) / 5)));
  // SE of the mean of {hit x3, miss x2}: sample sd = 2 * sqrt(0.3) (values differ by 2), / sqrt(5).
  CHECK(r.nll_se == Approx(2 * std::sqrt(0.3) / std::sqrt(5.0)));
  CHECK(r.ppl_lo < r.ppl);
  CHECK(r.ppl_hi > r.ppl);
}

TEST_CASE("top-k KL equals the full KL when k = vocab and is a lower bound otherwise", "[perplexity][kl]") {
  const std::vector<float> a = {1.f, 0.5f, -1.f, 2.f, 0.f, 0.1f};
  const std::vector<float> b = {0.8f, 0.7f, -0.5f, 2.2f, -0.3f, 0.f};
  std::vector<double> qb;
  log_softmax(b.data(), 6, qb);
  const double full = test::kl_divergence(a.data(), b.data(), 6);
  CHECK(full > 0);
  CHECK(kl_topk(make_token_dist(0, 1, a.data(), 6, 6), qb) == Approx(full).epsilon(1e-5));  // float log-probs
  const double k2 = kl_topk(make_token_dist(0, 1, a.data(), 6, 2), qb);
  CHECK(k2 <= full + 1e-12);
  CHECK(k2 > 0);
  std::vector<double> qa;
  log_softmax(a.data(), 6, qa);
  CHECK(kl_topk(make_token_dist(0, 1, a.data(), 6, 2), qa) == Approx(0).margin(1e-12));
  const TokenDist d = make_token_dist(3, 2, a.data(), 6, 3);
  CHECK(d.ids == std::vector<int32_t>{3, 0, 1});
  CHECK(d.token_logprob == Approx(qa[2]));
}

TEST_CASE("logits file round trip and validation", "[perplexity][kl]") {
  const std::string dir = test::temp_dir("qbl");
  const std::vector<float> a = {1.f, 0.5f, -1.f, 2.f};
  std::vector<TokenDist> d = {make_token_dist(1, 3, a.data(), 4, 2), make_token_dist(2, 0, a.data(), 4, 2)};
  LogitsFileHeader h{4, 16, 8, 3, 2, hash_tokens({5, 3, 0})};
  write_logits_file(dir + "/x.qbl", h, d);
  LogitsFileHeader r;
  const auto back = read_logits_file(dir + "/x.qbl", r);
  CHECK(r.vocab == 4);
  CHECK(r.k == 2);
  CHECK(r.text_hash == h.text_hash);
  REQUIRE(back.size() == 2);
  CHECK(back[1].pos == 2);
  CHECK(back[1].ids == d[1].ids);
  CHECK(back[1].logprobs == d[1].logprobs);
  // Truncated file: clear error, no crash.
  {
    std::ifstream f(dir + "/x.qbl", std::ios::binary);
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::ofstream(dir + "/t.qbl", std::ios::binary) << s.substr(0, s.size() - 5);
    std::ofstream(dir + "/m.qbl", std::ios::binary) << "NOTAFILE";
  }
  CHECK_THROWS_WITH(read_logits_file(dir + "/t.qbl", r), Catch::Contains("t.qbl"));
  CHECK_THROWS_WITH(read_logits_file(dir + "/m.qbl", r), Catch::Contains("bad magic"));
  CHECK(hash_tokens({1, 2}) != hash_tokens({2, 1}));
}

TEST_CASE("KL from the fixture's reference logits: FP16 vs Q8_0 small and positive, self 0", "[perplexity][kl][reference]") {
  if (!test::require_shared("fixtures/tiny-qwen2/reference/logits/index.json")) return;
  // Each format's stored last row of every sequence; summary.json says mean KL (all 296 positions) 4.47e-4.
  double sum_top = 0, sum_full = 0;
  int rows = 0;
  for (auto& seq : test::reference_sequences()) {
    const auto f = test::reference_logits("hf-fp16", seq.name);
    const auto q = test::reference_logits("gguf-q8_0", seq.name);
    REQUIRE(q.rows == 1);
    const int64_t V = f.vocab, last = int64_t(seq.ids.size()) - 1;
    const float* fr = f.data.data() + (last - f.first_pos) * V;
    const float* qr = q.data.data();
    std::vector<double> lq, lf;
    log_softmax(qr, V, lq);
    log_softmax(fr, V, lf);
    const double full = test::kl_divergence(fr, qr, V);
    const double exact = kl_topk(make_token_dist(last, 0, fr, V, int(V)), lq);  // k = vocab: exact
    const double top32 = kl_topk(make_token_dist(last, 0, fr, V, 32), lq);
    INFO(seq.name << ": full " << full << " top-k=V " << exact << " top-32 " << top32);
    CHECK(exact == Approx(full).epsilon(1e-3));  // log-probs are stored as float
    CHECK(top32 <= full + 1e-12);
    CHECK(kl_topk(make_token_dist(last, 0, fr, V, 32), lf) == Approx(0).margin(1e-9));
    sum_top += top32;
    sum_full += full;
    ++rows;
  }
  const double mean_full = sum_full / rows, mean_top = sum_top / rows;
  INFO("mean KL full " << mean_full << ", top-32 + rest " << mean_top);
  CHECK(mean_full > 1e-5);
  CHECK(mean_full < 2e-3);  // summary.json: mean 4.47e-4, max 9.98e-4
  CHECK(mean_top > 0);
}

TEST_CASE("perplexity run on tiny-qwen2: KL of the model against itself is 0, F16 KV vs F32 KV small", "[perplexity][kl][reference]") {
  if (!test::require_shared("fixtures/tiny-qwen2/hf-fp16/model.safetensors")) return;
  LoadOptions lo;
  lo.path = test::tiny_fixture_dir() + "/hf-fp16";
  auto e = load_engine(lo);
  std::ifstream f(test::repo_root() + "/datasets/samples/perplexity_text.txt");
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const std::vector<int32_t> tokens = e->tokenizer().encode(text, false);
  PplParams p;
  p.ctx = 128;
  p.stride = 64;
  p.max_windows = 4;
  p.progress = false;
  const int64_t V = e->config().vocab_size;
  std::vector<TokenDist> base;
  EngineLogitsModel m32(*e, p.ctx, KvType::F32, false);
  const PplResult r32 = run_perplexity(m32, tokens, p, [&](int64_t pos, int32_t tok, const float* row, int64_t vocab) {
    base.push_back(make_token_dist(pos, tok, row, vocab, 32));
  });
  CHECK(r32.scored == 127 + 3 * 64);
  // Random model over 8448 ids: perplexity in the thousands, finite.
  CHECK(std::isfinite(r32.ppl));
  CHECK(r32.ppl > 100);
  std::vector<double> kl_self, kl16, lp;
  size_t i = 0;
  EngineLogitsModel again(*e, p.ctx, KvType::F32, false);
  run_perplexity(again, tokens, p, [&](int64_t pos, int32_t, const float* row, int64_t vocab) {
    REQUIRE(base[i].pos == pos);
    log_softmax(row, vocab, lp);
    kl_self.push_back(kl_topk(base[i++], lp));
  });
  i = 0;
  EngineLogitsModel m16(*e, p.ctx, KvType::F16, false);
  const PplResult r16 = run_perplexity(m16, tokens, p, [&](int64_t, int32_t, const float* row, int64_t vocab) {
    log_softmax(row, vocab, lp);
    kl16.push_back(kl_topk(base[i++], lp));
  });
  double max_self = 0, mean16 = 0;
  for (double k : kl_self) max_self = std::max(max_self, k);
  for (double k : kl16) mean16 += k / double(kl16.size());
  INFO("self max KL " << max_self << ", f16-KV mean KL " << mean16 << ", ppl " << r32.ppl << " vs " << r16.ppl);
  CHECK(max_self <= 1e-9);
  CHECK(mean16 > 0);
  CHECK(mean16 < 1e-4);
  CHECK(std::fabs(r16.ppl - r32.ppl) / r32.ppl < 1e-2);
  (void)V;
}
