#include "workloads/kl_divergence.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numeric>

#include "engines/core/error.h"
#include "harness/measure/atomic_file.h"
#include "harness/measure/stats.h"
#include "workloads/perplexity.h"

namespace qbench {

TokenDist make_token_dist(int64_t pos, int32_t token, const float* logits, int64_t vocab, int k) {
  std::vector<double> lp;
  log_softmax(logits, vocab, lp);
  TokenDist d;
  d.pos = pos;
  d.token = token;
  d.token_logprob = float(lp[size_t(token)]);
  const int kk = int(std::min<int64_t>(k, vocab));
  std::vector<int32_t> idx(static_cast<size_t>(vocab));
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + kk, idx.end(), [&](int32_t a, int32_t b) {
    return lp[size_t(a)] > lp[size_t(b)] || (lp[size_t(a)] == lp[size_t(b)] && a < b);
  });
  for (int i = 0; i < kk; ++i) {
    d.ids.push_back(idx[size_t(i)]);
    d.logprobs.push_back(float(lp[size_t(idx[size_t(i)])]));
  }
  return d;
}

double kl_topk(const TokenDist& base, const std::vector<double>& q) {
  double kl = 0, p_top = 0, q_top = 0;
  for (size_t i = 0; i < base.ids.size(); ++i) {
    const double lp = double(base.logprobs[i]), p = std::exp(lp);
    const int32_t id = base.ids[i];
    if (id < 0 || size_t(id) >= q.size()) throw Error("baseline token id " + std::to_string(id) + " is outside this model's vocabulary");
    kl += p * (lp - q[size_t(id)]);
    p_top += p;
    q_top += std::exp(q[size_t(id)]);
  }
  if (base.ids.size() >= q.size()) return std::max(0.0, kl);  // k = vocab: nothing left over
  const double p_rest = 1 - p_top, q_rest = 1 - q_top;
  // The stored log-probs are float: their sum is only good to ~1e-6, so a smaller rest mass is
  // rounding, not probability (counting it would add p_rest * log(p_rest / ~0), a spurious term).
  if (p_rest > 1e-5) kl += p_rest * (std::log(p_rest) - std::log(std::max(q_rest, 1e-300)));
  return std::max(0.0, kl);
}

uint64_t hash_tokens(const std::vector<int32_t>& ids) {
  uint64_t h = 1469598103934665603ull;
  for (int32_t id : ids)
    for (int b = 0; b < 4; ++b) {
      h ^= (uint32_t(id) >> (8 * b)) & 0xff;
      h *= 1099511628211ull;
    }
  return h;
}

// Layout (little-endian):
//   "QBLOGK01"  8 bytes magic
//   i64 vocab, i64 ctx, i64 stride, i64 text_tokens, u64 text_hash, i32 k, i32 reserved, i64 records
//   records x { i64 pos, i32 token, f32 token_logprob, k x i32 id, k x f32 logprob }
namespace {

constexpr char kMagic[8] = {'Q', 'B', 'L', 'O', 'G', 'K', '0', '1'};

template <class T>
void put(std::string& s, T v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

template <class T>
T get(const std::string& s, size_t& off, const std::string& path) {
  if (off + sizeof(T) > s.size()) throw Error(path + ": truncated at byte " + std::to_string(off));
  T v;
  std::memcpy(&v, s.data() + off, sizeof(T));
  off += sizeof(T);
  return v;
}

}  // namespace

void write_logits_file(const std::string& path, const LogitsFileHeader& h, const std::vector<TokenDist>& d) {
  std::string s(kMagic, 8);
  put<int64_t>(s, h.vocab);
  put<int64_t>(s, h.ctx);
  put<int64_t>(s, h.stride);
  put<int64_t>(s, h.text_tokens);
  put<uint64_t>(s, h.text_hash);
  put<int32_t>(s, h.k);
  put<int32_t>(s, 0);
  put<int64_t>(s, int64_t(d.size()));
  for (auto& t : d) {
    if (int32_t(t.ids.size()) != h.k) throw Error("write_logits_file: record with " + std::to_string(t.ids.size()) + " ids, header says k = " + std::to_string(h.k));
    put<int64_t>(s, t.pos);
    put<int32_t>(s, t.token);
    put<float>(s, t.token_logprob);
    for (int32_t id : t.ids) put<int32_t>(s, id);
    for (float lp : t.logprobs) put<float>(s, lp);
  }
  write_file_atomic(path, s);
}

std::vector<TokenDist> read_logits_file(const std::string& path, LogitsFileHeader& h) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open");
  const std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (s.size() < 8 || std::memcmp(s.data(), kMagic, 8) != 0) throw Error(path + ": not a qbench logits file (bad magic)");
  size_t off = 8;
  h.vocab = get<int64_t>(s, off, path);
  h.ctx = get<int64_t>(s, off, path);
  h.stride = get<int64_t>(s, off, path);
  h.text_tokens = get<int64_t>(s, off, path);
  h.text_hash = get<uint64_t>(s, off, path);
  h.k = get<int32_t>(s, off, path);
  (void)get<int32_t>(s, off, path);
  const int64_t n = get<int64_t>(s, off, path);
  if (h.vocab <= 0 || h.vocab > (int64_t(1) << 31) || h.k <= 0 || h.k > h.vocab || h.ctx <= 0 || h.stride <= 0 || n < 0)
    throw Error(path + ": header values out of range (vocab " + std::to_string(h.vocab) + ", k " + std::to_string(h.k) + ")");
  const uint64_t rec = 16 + uint64_t(h.k) * 8;
  if (uint64_t(n) > (s.size() - off) / rec || (s.size() - off) != uint64_t(n) * rec)
    throw Error(path + ": size does not match " + std::to_string(n) + " records of k = " + std::to_string(h.k));
  std::vector<TokenDist> d(static_cast<size_t>(n));
  for (auto& t : d) {
    t.pos = get<int64_t>(s, off, path);
    t.token = get<int32_t>(s, off, path);
    t.token_logprob = get<float>(s, off, path);
    t.ids.resize(size_t(h.k));
    t.logprobs.resize(size_t(h.k));
    for (auto& id : t.ids) {
      id = get<int32_t>(s, off, path);
      if (id < 0 || id >= h.vocab) throw Error(path + ": token id " + std::to_string(id) + " outside the vocabulary");
    }
    for (auto& lp : t.logprobs) lp = get<float>(s, off, path);
  }
  return d;
}

KlStats summarize_kl(const std::vector<double>& kl, const std::vector<bool>& agree, const std::vector<double>& base_lp,
                     const std::vector<double>& test_lp) {
  KlStats k;
  k.n = int64_t(kl.size());
  if (k.n == 0) return k;
  const Summary s = summarize(kl);
  k.mean = s.mean;
  k.mean_se = s.stddev / std::sqrt(double(k.n));
  k.median = s.p50;
  k.p99 = s.p99;
  k.max = s.max;
  k.top1_agreement = double(std::count(agree.begin(), agree.end(), true)) / double(k.n);
  double sb = 0, st = 0;
  for (double v : base_lp) sb -= v;
  for (double v : test_lp) st -= v;
  k.base_ppl = std::exp(sb / double(base_lp.size()));
  k.test_ppl = std::exp(st / double(test_lp.size()));
  k.delta_ppl = k.test_ppl - k.base_ppl;
  return k;
}

nlohmann::json KlStats::to_json() const {
  return {{"tokens", n},          {"kl_mean", mean},       {"kl_mean_se", mean_se}, {"kl_median", median},
          {"kl_p99", p99},        {"kl_max", max},         {"top1_agreement", top1_agreement},
          {"base_perplexity", base_ppl}, {"perplexity", test_ppl}, {"delta_perplexity", delta_ppl}};
}

}  // namespace qbench
