// The hardware planner: the shipped GPU catalog, predictions checked against
// hand-computed rooflines and the memory model, calibration on results whose
// answer is known, prices and the three output forms.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "engines/core/error.h"
#include "engines/model/memory_model.h"
#include "engines/model/shape_catalog.h"
#include "harness/plan/calibration.h"
#include "harness/plan/device_catalog.h"
#include "harness/plan/model_source.h"
#include "harness/plan/plan_report.h"
#include "harness/plan/predictor.h"
#include "tests/support/test_paths.h"

using namespace qbench;
using namespace qbench::plan;
using nlohmann::json;

namespace {

Efficiency unit_efficiency() {
  Efficiency e;
  e.bandwidth = 1.0;
  e.compute = 1.0;
  e.overhead_ms = 0.0;
  return e;
}

DeviceSpec cpu_like(double gbs, double gflops) {
  json roof = {{"rooflines", {{{"threads", 2}, {"read_bandwidth_gbs", gbs}, {"fp32_gemm_gflops", gflops}}}},
               {"system", {{"cpu", {{"model", "Test CPU"}}}, {"memory_bytes", uint64_t(8) << 30}}}};
  return cpu_device_from_roofline(roof, 0, "test roofline");
}

// A latency result as qbench run writes it, with only the fields calibration reads.
json fake_result(const std::string& shape, const std::string& backend, double decode, double prefill, int64_t prompt,
                 int64_t gen) {
  return {{"schema", "qbench.result"},
          {"system", {{"cpu", {{"model", "Test CPU"}}}, {"memory_bytes", uint64_t(8) << 30}, {"gpus", json::array()}}},
          {"model", {{"backend", backend}, {"config", shape_config(shape).to_json()}}},
          {"runtime", {{"device", "cpu"}, {"threads", 2}}},
          {"workload",
           {{"params", {{"prompt_tokens", prompt}, {"gen_tokens", gen}, {"kv_type", "f16"}}},
            {"summary", {{"decode_tokens_per_s", {{"p50", decode}}}, {"prefill_tokens_per_s", {{"p50", prefill}}}}}}}};
}

}  // namespace

TEST_CASE("plan: the shipped GPU catalog", "[plan]") {
  const auto cat = load_gpu_catalog(default_gpu_catalog_path());
  for (const char* id : {"t4", "l4", "a10", "rtx3060", "rtx3090", "rtx4090", "a100-40g", "a100-80g", "h100", "h200"}) {
    INFO(id);
    const DeviceSpec& d = find_device(cat, id);
    CHECK(d.memory_bytes > (uint64_t(10) << 30));
    CHECK(d.bandwidth_gbs >= 300);
    CHECK(d.matmul_tflops >= 25);
    CHECK(d.sm_count > 0);
    CHECK(!d.source.empty());
  }
  CHECK(find_device(cat, "h100").bandwidth_gbs == 3350);
  CHECK(find_device(cat, "h100").memory_bytes == uint64_t(80) << 30);
  CHECK(find_device(cat, "t4").memory_bytes == uint64_t(15) << 30);  // 16 GiB less ECC's 1/16
  CHECK_THROWS_AS(find_device(cat, "b200"), Error);
}

TEST_CASE("plan: catalog validation and user extension", "[plan]") {
  const json ok = {{"gpus", {{{"id", "x1"}, {"name", "X"}, {"memory_gib", 8}, {"bandwidth_gbs", 100}, {"fp16_tensor_tflops", 10}}}}};
  auto base = parse_gpu_catalog(ok, "a");
  const json repl = {{"gpus", {{{"id", "x1"}, {"name", "X2"}, {"memory_gib", 16}, {"bandwidth_gbs", 200}, {"fp16_tensor_tflops", 20}},
                               {{"id", "y"}, {"name", "Y"}, {"memory_gib", 4}, {"bandwidth_gbs", 50}, {"fp16_tensor_tflops", 5}}}}};
  merge_catalog(base, parse_gpu_catalog(repl, "b"));
  REQUIRE(base.size() == 2);
  CHECK(find_device(base, "x1").name == "X2");
  CHECK(find_device(base, "x1").memory_bytes == uint64_t(16) << 30);
  json bad = ok;
  bad["gpus"][0].erase("bandwidth_gbs");
  CHECK_THROWS_AS(parse_gpu_catalog(bad, "c"), Error);
  bad = ok;
  bad["gpus"][0]["memory_gib"] = -1;
  CHECK_THROWS_AS(parse_gpu_catalog(bad, "c"), Error);
  bad = ok;
  bad["gpus"].push_back(ok["gpus"][0]);
  CHECK_THROWS_AS(parse_gpu_catalog(bad, "c"), Error);
  CHECK_THROWS_AS(parse_gpu_catalog(json::array(), "c"), Error);
  CHECK_THROWS_AS(cpu_device_from_roofline(json::object(), 0, "r"), Error);
}

TEST_CASE("plan: predictions follow the roofline and the memory model", "[plan]") {
  const auto cat = load_gpu_catalog(default_gpu_catalog_path());
  const ModelConfig c = shape_config("qwen2.5-7b");
  const DeviceSpec& h100 = find_device(cat, "h100");
  PlanParams p;
  p.context = 1000;
  const Prediction r = predict(c, "gguf-q4_k_m", h100, p, unit_efficiency());
  const uint64_t w = weight_breakdown(c, "gguf-q4_k_m").resident_total();
  CHECK(r.weight_bytes == w);
  CHECK(r.kv_bytes == 1000ull * 56 * 1024);
  CHECK(r.decode_tokens_per_s == Approx(3350e9 / double(w + 1000ull * 56 * 1024)).epsilon(1e-12));
  CHECK(!r.decode_compute_bound);
  CHECK(r.fits);
  // 2 FLOPs per matmul weight per token (the embedding gather is not a matmul; the LM head runs
  // for the last token only), plus causal attention 2 x 512^2 x 3584 x 28 (~0.8%).
  const double matmul = double(c.parameter_count()) - 2.0 * 152064 * 3584 - (28 * (3 * 3584 + 1024) + 3584);  // less norms/biases
  CHECK(prefill_flops(c, 512) == Approx(2.0 * matmul * 512 + 2.0 * 152064 * 3584 + 2.0 * 512 * 512 * 3584 * 28));
  CHECK(r.ttft_ms == Approx(prefill_flops(c, 512) / 989.5e12 * 1e3).epsilon(1e-9));

  // Efficiency scales decode linearly while memory-bound.
  Efficiency half = unit_efficiency();
  half.bandwidth = 0.5;
  CHECK(predict(c, "gguf-q4_k_m", h100, p, half).decode_tokens_per_s == Approx(r.decode_tokens_per_s * 0.5));

  // Batching: more tokens in total, fewer per sequence.
  PlanParams pb = p;
  pb.batch = 8;
  const Prediction rb = predict(c, "gguf-q4_k_m", h100, pb, unit_efficiency());
  CHECK(rb.aggregate_tokens_per_s > r.aggregate_tokens_per_s);
  CHECK(rb.decode_tokens_per_s < r.decode_tokens_per_s);
}

TEST_CASE("plan: fits and max context are consistent at their boundary", "[plan]") {
  const auto cat = load_gpu_catalog(default_gpu_catalog_path());
  const Efficiency e = Efficiency::defaults_for(find_device(cat, "t4"));
  // Qwen2.5-7B: FP16 (15.2 GB) does not fit a T4 (15 GiB usable), Q4_K_M does with 32K context.
  PlanParams p;
  p.context = 32768;
  CHECK(!predict(shape_config("qwen2.5-7b"), "fp16", find_device(cat, "t4"), p, e).fits);
  CHECK(predict(shape_config("qwen2.5-7b"), "gguf-q4_k_m", find_device(cat, "t4"), p, e).fits);
  CHECK(!predict(shape_config("qwen2.5-72b"), "fp16", find_device(cat, "h200"), p, e).fits);
  for (const char* shape : {"qwen2.5-7b", "qwen2.5-32b", "llama-3-70b"})
    for (const char* gpu : {"t4", "rtx4090", "a100-80g"})
      for (int64_t batch : {1, 4}) {
        INFO(shape << " " << gpu << " batch " << batch);
        const ModelConfig c = shape_config(shape);
        const DeviceSpec& d = find_device(cat, gpu);
        PlanParams q;
        q.batch = batch;
        q.context = 4096;
        const Prediction r = predict(c, "gguf-q4_k_m", d, q, e);
        if (r.max_context == 0) {
          q.context = 1;
          CHECK(!predict(c, "gguf-q4_k_m", d, q, e).fits);
          continue;
        }
        q.context = r.max_context;
        CHECK(predict(c, "gguf-q4_k_m", d, q, e).fits);
        if (!r.max_context_capped) {
          q.context = r.max_context + 1;
          CHECK(!predict(c, "gguf-q4_k_m", d, q, e).fits);
        }
      }
}

TEST_CASE("plan: bad parameters are errors", "[plan]") {
  const DeviceSpec d = cpu_like(10, 100);
  PlanParams p;
  p.context = 0;
  CHECK_THROWS_AS(predict(shape_config("tiny"), "fp16", d, p, unit_efficiency()), Error);
  p = PlanParams{};
  p.kv_type = "q3";
  CHECK_THROWS_AS(predict(shape_config("tiny"), "fp16", d, p, unit_efficiency()), Error);
  CHECK_THROWS_AS(predict(shape_config("tiny"), "int2", d, PlanParams{}, unit_efficiency()), Error);
  CHECK_THROWS_AS(resolve_model_config("no-such-model"), Error);
  CHECK(resolve_model_config("llama-3-8b").num_layers == 32);
}

TEST_CASE("plan: a GGUF file's metadata gives the same config as its HF checkpoint", "[plan]") {
  if (!test::require_shared("fixtures/tiny-qwen2/gguf/tiny-qwen2-q4_k_m.gguf")) return;
  const std::string fx = test::shared_dir() + "/fixtures/tiny-qwen2/";
  const ModelConfig g = resolve_model_config(fx + "gguf/tiny-qwen2-q4_k_m.gguf");
  const ModelConfig h = resolve_model_config(fx + "hf-fp16");
  CHECK(g.num_layers == h.num_layers);
  CHECK(g.hidden_size == h.hidden_size);
  CHECK(g.intermediate_size == h.intermediate_size);
  CHECK(g.num_heads == h.num_heads);
  CHECK(g.num_kv_heads == h.num_kv_heads);
  CHECK(g.vocab_size == h.vocab_size);
  CHECK(g.tie_word_embeddings == h.tie_word_embeddings);
}

TEST_CASE("plan: calibration recovers known efficiencies and overheads", "[plan]") {
  const std::vector<DeviceSpec> cat;
  const json roof = {{"rooflines", {{{"threads", 2}, {"read_bandwidth_gbs", 10.0}, {"fp32_gemm_gflops", 100.0}}}}};
  const DeviceSpec d = cpu_device_from_roofline(roof, 2, "roof");
  // Runs timed exactly as: decode step = bytes / (0.4 x 10 GB/s) + 0.1 ms per layer,
  // prefill = FLOPs / (0.3 x 100 GFLOP/s) + 50 ms.
  auto runs_for = [&](double layer_ms, double ttft_ms) {
    std::vector<MeasuredRun> runs;
    for (const char* shape : {"tiny", "qwen2.5-0.5b", "qwen2.5-1.5b"}) {
      const ModelConfig c = shape_config(shape);
      const double dec = 1.0 / (1.0 / (0.4 * decode_roofline_tokens_per_s(c, "fp16", d, "f16", 64 + 16 / 2, 1)) +
                                 layer_ms * 1e-3 * double(c.num_layers));
      const double pre = 64.0 / (prefill_flops(c, 64) / (0.3 * 100e9) + ttft_ms * 1e-3);
      runs.push_back(read_measured_run(fake_result(shape, "fp16", dec, pre, 64, 16), shape, cat, roof));
    }
    return runs;
  };
  std::vector<MeasuredRun> runs = runs_for(0.1, 50.0);
  CHECK(runs[0].device.bandwidth_gbs == 10.0);
  CHECK(runs[0].device.name == "Test CPU");
  auto cal = calibrate(runs);
  REQUIRE(cal.size() == 1);
  CHECK(cal[0].efficiency.bandwidth == Approx(0.4));
  CHECK(cal[0].efficiency.layer_overhead_ms == Approx(0.1));
  CHECK(cal[0].efficiency.compute == Approx(0.3));
  CHECK(cal[0].efficiency.overhead_ms == Approx(50.0));
  REQUIRE(cal[0].rows.size() == 3);
  for (auto& r : cal[0].rows) {
    CHECK(std::abs(r.decode_error_pct) < 1e-6);
    CHECK(std::abs(r.prefill_error_pct) < 1e-6);
  }
  // Held out: a run timed by the same law but not fitted on is predicted exactly;
  // one measured 1.25x slower is over-predicted by 25 %.
  {
    std::vector<MeasuredRun> held = runs_for(0.1, 50.0);
    held[2].file = "held-slow";
    held[2].decode_tokens_per_s /= 1.25;
    validate(cal, held);
    REQUIRE(cal[0].held_out.size() == 3);
    CHECK(std::abs(cal[0].held_out[0].decode_error_pct) < 1e-6);
    CHECK(cal[0].held_out[2].decode_error_pct == Approx(25.0));
    CHECK(cal[0].max_abs_held_out_decode_error_pct == Approx(25.0));
    CHECK(cal[0].to_json().contains("held_out"));
    MeasuredRun other = held[0];
    other.device.id = "h100";
    other.device.name = "NVIDIA H100";
    std::vector<MeasuredRun> none{other};
    CHECK_THROWS_AS(validate(cal, none), Error);  // no fit for that device
  }
  // No overhead: the fit finds none.
  cal = calibrate(runs_for(0.0, 0.0));
  CHECK(cal[0].efficiency.bandwidth == Approx(0.4));
  CHECK(cal[0].efficiency.layer_overhead_ms == Approx(0.0).margin(1e-6));
  // Inconsistent runs: the model cannot match all three; the errors say so.
  runs[1].decode_tokens_per_s *= 1.5;
  cal = calibrate(runs);
  CHECK(cal[0].max_abs_decode_error_pct > 5);
  CHECK(fit_relative({1, 2}, {2, 4}) == Approx(2.0));  // k x roofline = measured
  const TimeFit f = fit_time_model({1, 2, 3}, {2.5, 4.5, 6.5});
  CHECK(f.a == Approx(2.0));
  CHECK(f.b == Approx(0.5));
  CHECK(fit_time_model({1}, {2}).a == Approx(2.0));  // one run: through the origin
}

TEST_CASE("plan: result files calibration cannot use are errors", "[plan]") {
  const std::vector<DeviceSpec> cat;
  const json roof = {{"rooflines", {{{"threads", 2}, {"read_bandwidth_gbs", 10.0}, {"fp32_gemm_gflops", 100.0}}}}};
  const json good = fake_result("tiny", "fp16", 10, 100, 64, 16);
  CHECK_NOTHROW(read_measured_run(good, "r", cat, roof));
  CHECK_THROWS_AS(read_measured_run(good, "r", cat, std::nullopt), Error);  // CPU run without roofline
  json bad = good;
  bad["workload"]["summary"].erase("decode_tokens_per_s");
  CHECK_THROWS_AS(read_measured_run(bad, "r", cat, roof), Error);
  bad = good;
  bad["model"]["config"]["hidden_size"] = -5;
  CHECK_THROWS_AS(read_measured_run(bad, "r", cat, roof), Error);
  bad = good;
  bad["schema"] = "something.else";
  CHECK_THROWS_AS(read_measured_run(bad, "r", cat, roof), Error);
  bad = good;
  bad["runtime"]["device"] = "cuda";
  bad["system"]["gpus"] = json::array({{{"name", "NVIDIA H100 80GB HBM3"}}});
  CHECK_THROWS_AS(read_measured_run(bad, "r", cat, roof), Error);  // not in this (empty) catalog
  const auto full = load_gpu_catalog(default_gpu_catalog_path());
  CHECK(read_measured_run(bad, "r", full, std::nullopt).device.id == "h100");
}

TEST_CASE("plan: prices, costs and the three output forms", "[plan]") {
  const auto cat = load_gpu_catalog(default_gpu_catalog_path());
  const auto prices = parse_prices(json{{"devices", {{"h100", {{"price_per_hour", 2.5}, {"currency", "USD"}}}}}}, "p");
  CHECK_THROWS_AS(parse_prices(json{{"devices", {{"h100", {{"price_per_hour", "cheap"}}}}}}, "p"), Error);
  CHECK_THROWS_AS(parse_prices(json::array(), "p"), Error);
  PlanReport rep;
  rep.model = "qwen2.5-7b";
  rep.config = shape_config(rep.model);
  rep.params.context = 8192;
  for (const char* gpu : {"t4", "h100"})
    for (const char* b : {"fp16", "gguf-q4_k_m"}) {
      const DeviceSpec& d = find_device(cat, gpu);
      PlanRow row{predict(rep.config, b, d, rep.params, Efficiency::defaults_for(d)), std::nullopt};
      if (prices.count(gpu)) row.price = prices.at(gpu);
      rep.rows.push_back(row);
    }
  const json rows = plan_rows_json(rep);
  REQUIRE(rows.size() == 4);
  for (auto& r : rows)
    for (const char* k : {"gpu", "backend", "fits", "max_context", "ttft_ms", "decode_tokens_per_s"}) CHECK(r.contains(k));
  CHECK(rows[0]["gpu"] == "t4");
  CHECK(rows[0]["fits"] == false);
  CHECK(!rows[0].contains("cost_per_million_tokens"));
  CHECK(rows[3]["gpu"] == "h100");
  const double agg = rows[3]["aggregate_tokens_per_s"];
  CHECK(rows[3]["cost_per_million_tokens"].get<double>() == Approx(2.5 / (agg * 3600) * 1e6));
  const std::string table = format_plan_table(rep), md = format_plan_markdown(rep);
  CHECK(table.find("gguf-q4_k_m") != std::string::npos);
  CHECK(table.find("USD") != std::string::npos);
  CHECK(md.find("| t4 | fp16 | no |") != std::string::npos);
}
