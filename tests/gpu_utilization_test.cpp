// GPU utilisation sampling (issue 9): the summary of a sampled run (p50 / mean /
// max, numpy's linear percentile), a background sampler driven by a fake
// source, failed readings, and NVML being absent or present (never a crash).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "harness/measure/gpu_utilization.h"

using namespace qbench;

namespace {

// Replays a script of readings; every `fail_every`-th reading fails.
class FakeSource final : public UtilSource {
 public:
  FakeSource(std::vector<UtilReading> script, int fail_every, std::atomic<int>* reads)
      : script_(std::move(script)), fail_every_(fail_every), reads_(reads) {}
  bool read(UtilReading* r, std::string* why) override {
    const int i = (*reads_)++;
    if (fail_every_ && (i + 1) % fail_every_ == 0) {
      *why = "fake failure";
      return false;
    }
    *r = script_[size_t(i) % script_.size()];
    return true;
  }
  std::string name() const override { return "fake"; }

 private:
  std::vector<UtilReading> script_;
  int fail_every_;
  std::atomic<int>* reads_;
};

}  // namespace

TEST_CASE("utilisation summary: p50, mean and max of the samples", "[measure][gpu-util]") {
  std::vector<UtilSample> s;
  const double gpu[] = {10, 90, 50, 100, 0};
  const double mem[] = {5, 5, 35, 60, 20};
  for (int i = 0; i < 5; ++i) s.push_back({0.05 * i, {gpu[i], mem[i]}});
  const auto j = summarize_utilization(s, 50, "fake", 2, "boom");
  CHECK(j["available"] == true);
  CHECK(j["samples"] == 5);
  CHECK(j["failed_reads"] == 2);
  CHECK(j["period_ms"] == 50.0);
  CHECK(j["source"] == "fake");
  CHECK(j["gpu_percent"]["p50"].get<double>() == Approx(50));
  CHECK(j["gpu_percent"]["mean"].get<double>() == Approx(50));
  CHECK(j["gpu_percent"]["max"].get<double>() == Approx(100));
  CHECK(j["memory_percent"]["p50"].get<double>() == Approx(20));
  CHECK(j["memory_percent"]["mean"].get<double>() == Approx(25));
  CHECK(j["memory_percent"]["max"].get<double>() == Approx(60));
  // Even count: p50 interpolates between the middle two (numpy "linear").
  s.pop_back();
  CHECK(summarize_utilization(s, 50, "fake")["gpu_percent"]["p50"].get<double>() == Approx(70));
}

TEST_CASE("utilisation summary without samples is unavailable with the reason", "[measure][gpu-util]") {
  const auto none = summarize_utilization({}, 50, "fake");
  CHECK(none["available"] == false);
  CHECK(none["reason"].get<std::string>().find("no reading") != std::string::npos);
  const auto failed = summarize_utilization({}, 50, "fake", 3, "nvml error 999");
  CHECK(failed["available"] == false);
  CHECK(failed["reason"].get<std::string>().find("nvml error 999") != std::string::npos);
  CHECK(utilization_unavailable("cpu device")["reason"] == "cpu device");
}

TEST_CASE("utilisation sampler reads a source on its own thread until stopped", "[measure][gpu-util]") {
  std::atomic<int> reads{0};
  UtilSampler sampler(std::make_unique<FakeSource>(std::vector<UtilReading>{{20, 10}, {80, 30}}, 5, &reads), 2.0);
  sampler.start();
  const auto t0 = std::chrono::steady_clock::now();
  while (reads < 20 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10))
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const auto j = sampler.stop();
  const int total = reads.load();
  REQUIRE(total >= 20);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(reads.load() == total);  // stopped: no more readings
  const auto s = sampler.samples();
  const int failed = total / 5;  // every 5th reading failed
  CHECK(int(s.size()) == total - failed);
  CHECK(j["failed_reads"] == failed);
  CHECK(j["samples"] == s.size());
  for (size_t i = 1; i < s.size(); ++i) CHECK(s[i].t_s >= s[i - 1].t_s);
  // The script alternates 20/80 (failures skip entries), so the summary lies between them.
  CHECK(j["gpu_percent"]["max"].get<double>() == Approx(80));
  CHECK(j["gpu_percent"]["mean"].get<double>() > 20);
  CHECK(j["gpu_percent"]["mean"].get<double>() < 80);
  CHECK(j["memory_percent"]["max"].get<double>() == Approx(30));
}

TEST_CASE("NVML utilisation source: absent or present, never a crash", "[measure][gpu-util]") {
  std::string why;
  auto src = open_nvml_utilization("", &why);
  if (!src) {
    CHECK(!why.empty());  // the reason is reported
    return;
  }
  UtilReading r;
  REQUIRE(src->read(&r, &why));
  CHECK(r.gpu_percent >= 0);
  CHECK(r.gpu_percent <= 100);
  CHECK(r.memory_percent >= 0);
  CHECK(r.memory_percent <= 100);
}
