// Continuous batching: limits, FCFS admission, back-pressure from the KV pool,
// and the tokens it produces equal those of each request decoded alone.
#include <catch2/catch.hpp>

#include <map>

#include "engines/core/error.h"
#include "engines/registry/registry.h"
#include "tests/support/reference_fixture.h"
#include "tests/support/test_paths.h"
#include "workloads/batch_scheduler.h"
#include "workloads/request_source.h"
#include "workloads/throughput.h"

using namespace qbench;
using namespace qbench::test;

namespace {

std::unique_ptr<Engine> tiny() {
  LoadOptions lo;
  lo.path = tiny_fixture_dir() + "/hf-fp16";
  return load_engine(lo);
}

std::vector<int32_t> prompt(int64_t id, int64_t n) {
  std::vector<int32_t> p;
  for (int64_t i = 0; i < n; ++i) p.push_back(int32_t((id * 131 + i * 17) % 8000));
  return p;
}

}  // namespace

TEST_CASE("scheduler output equals each request decoded alone (greedy)", "[batch][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/hf-fp16/model.safetensors")) return;
  auto e = tiny();
  Transformer& m = e->model();
  const int64_t V = m.config().vocab_size;
  const std::vector<std::pair<int64_t, int64_t>> lens = {{5, 6}, {40, 3}, {17, 9}, {60, 5}, {3, 7}};
  std::map<int64_t, std::vector<int32_t>> alone;
  for (size_t i = 0; i < lens.size(); ++i) {
    auto p = prompt(int64_t(i), lens[i].first);
    Sequence s = m.new_sequence(lens[i].first + lens[i].second, KvType::F32);
    std::vector<float> lg;
    m.forward(s, p.data(), int64_t(p.size()), LogitsMode::Last, lg);
    for (int64_t t = 0; t < lens[i].second; ++t) {
      int32_t tok = argmax(lg.data(), V);
      alone[int64_t(i)].push_back(tok);
      if (t + 1 < lens[i].second) m.forward(s, &tok, 1, LogitsMode::Last, lg);
    }
  }
  // Small limits so prefill is chunked and requests queue.
  SchedulerLimits lim;
  lim.max_num_seqs = 3;
  lim.max_batched_tokens = 24;
  lim.prefill_chunk = 16;
  auto pool = m.new_kv_pool(1024, KvType::F32, 8);
  BatchScheduler sched(m, pool, lim, {});
  for (size_t i = 0; i < lens.size(); ++i) sched.submit(int64_t(i), prompt(int64_t(i), lens[i].first), lens[i].second);
  std::map<int64_t, std::vector<int32_t>> batched;
  std::map<int64_t, int> firsts, finishes;
  int steps = 0;
  while (!sched.idle()) {
    REQUIRE(sched.running() <= 3);
    for (auto& ev : sched.step()) {
      batched[ev.id].push_back(ev.token);
      firsts[ev.id] += ev.first;
      finishes[ev.id] += ev.finished;
    }
    REQUIRE(sched.last_batch_tokens() <= 24);
    REQUIRE(++steps < 1000);
  }
  CHECK(batched == alone);
  for (size_t i = 0; i < lens.size(); ++i) {
    CHECK(firsts[int64_t(i)] == 1);
    CHECK(finishes[int64_t(i)] == 1);
  }
  CHECK(pool->free_blocks() == pool->total_blocks());  // every block returned
}

TEST_CASE("a full KV pool makes requests wait, first come first served", "[batch][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/hf-fp16/model.safetensors")) return;
  auto e = tiny();
  Transformer& m = e->model();
  auto pool = m.new_kv_pool(48, KvType::F16, 8);  // 6 blocks
  BatchScheduler sched(m, pool, {}, {});
  sched.submit(0, prompt(0, 20), 12);  // 32 slots = 4 blocks
  sched.submit(1, prompt(1, 10), 10);  // 20 slots = 3 blocks: must wait for request 0
  sched.submit(2, prompt(2, 4), 4);    // would fit (1 block) but may not overtake request 1
  std::vector<int64_t> first_order;
  bool saw_wait = false;
  while (!sched.idle()) {
    for (auto& ev : sched.step())
      if (ev.first) first_order.push_back(ev.id);
    // While request 0 holds 4 of 6 blocks, request 2 (1 block) must not overtake request 1 (3 blocks).
    if (sched.waiting() == 2 && sched.running() == 1) saw_wait = true;
    CHECK_FALSE((sched.waiting() == 1 && sched.running() == 2 && first_order.size() == 1));
  }
  CHECK(saw_wait);
  CHECK(first_order == std::vector<int64_t>{0, 1, 2});
  CHECK_THROWS_WITH(sched.submit(3, prompt(3, 40), 20), Catch::Contains("more than the whole pool"));
}

TEST_CASE("request lengths and Poisson arrivals are seeded and well-formed", "[batch]") {
  const auto a = make_requests(2000, LengthDist::parse("uniform:10:20"), LengthDist::parse("normal:50:10"), 4.0, 7);
  const auto b = make_requests(2000, LengthDist::parse("uniform:10:20"), LengthDist::parse("normal:50:10"), 4.0, 7);
  REQUIRE(a.size() == 2000);
  double sum_gen = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].prompt_tokens == b[i].prompt_tokens);
    CHECK(a[i].arrival_s == b[i].arrival_s);
    CHECK(a[i].prompt_tokens >= 10);
    CHECK(a[i].prompt_tokens <= 20);
    CHECK(a[i].gen_tokens >= 1);
    if (i) CHECK(a[i].arrival_s > a[i - 1].arrival_s);
    sum_gen += double(a[i].gen_tokens);
  }
  // 2000 exponential gaps at rate 4/s: mean gap 0.25 s (standard error ~0.0056).
  CHECK(a.back().arrival_s / 2000 == Approx(0.25).margin(0.03));
  CHECK(sum_gen / 2000 == Approx(50).margin(1.5));
  const auto c = make_requests(3, LengthDist::parse("64"), LengthDist::parse("8"), 0.0, 1);
  for (auto& r : c) CHECK(r.arrival_s == 0.0);
  CHECK_THROWS_AS(LengthDist::parse("uniform:9:3"), Error);
  CHECK_THROWS_AS(LengthDist::parse("lognormal:1:2"), Error);
  CHECK_THROWS_AS(LengthDist::parse("0"), Error);
}

TEST_CASE("throughput points: requests per concurrency, decode batch and context, GPU utilisation field",
          "[batch][reference]") {
  if (!require_shared("fixtures/tiny-qwen2/hf-fp16/model.safetensors")) return;
  auto e = tiny();
  ThroughputParams p;
  p.requests = 7;
  p.requests_per_concurrency = 2;  // concurrency 1: 2 requests; 3: 6; 4: min(7, 8) = 7
  p.concurrency = {1, 3, 4};
  p.prompt_tokens = LengthDist::parse("9");
  p.gen_tokens = LengthDist::parse("5");
  p.progress = false;
  const auto r = run_throughput(*e, p);
  const auto& pts = r["points"];
  REQUIRE(pts.size() == 3);
  const int64_t want_req[3] = {2, 6, 7};
  for (size_t i = 0; i < 3; ++i) {
    const auto& pt = pts[i];
    const auto& s = pt["summary"];
    INFO("point " << i);
    CHECK(pt["n_requests"] == want_req[i]);
    CHECK(pt["requests"].size() == size_t(want_req[i]));
    // Every request decodes 4 tokens after its first: decode rows over decode steps is the mean batch.
    const double B = s["mean_decode_batch"].get<double>();
    CHECK(B >= 1.0);
    CHECK(B <= double(pt["concurrency"].get<int64_t>()));
    CHECK(s["decode_steps"].get<int64_t>() * B == Approx(double(want_req[i] * 4)));
    // Decode rows attend over prompt + 1 .. prompt + 4 keys (9 + 1 .. 9 + 4): mean 11.5.
    CHECK(s["mean_decode_context"].get<double>() == Approx(11.5));
    CHECK(pt["gpu_utilization"]["available"] == false);  // CPU device
    CHECK(pt["gpu_utilization"]["reason"].get<std::string>().find("cpu") != std::string::npos);
  }
  CHECK(pts[0]["summary"]["mean_decode_batch"].get<double>() == Approx(1.0));
}
