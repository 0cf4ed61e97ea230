#include "harness/measure/gpu_utilization.h"

#include <dlfcn.h>

#include <chrono>

#include "harness/measure/clock.h"
#include "harness/measure/stats.h"

namespace qbench {

namespace {

// NVML's C ABI, declared here so no NVML header is needed at build time.
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlUtilization_t {
  unsigned int gpu, memory;
};
constexpr int kNvmlSuccess = 0;

class NvmlUtil final : public UtilSource {
 public:
  ~NvmlUtil() override {
    if (shutdown_) shutdown_();
    if (lib_) dlclose(lib_);
  }
  bool open(const std::string& bus, std::string* why) {
    lib_ = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib_) return fail(why, "libnvidia-ml.so.1 not found");
    auto init = reinterpret_cast<int (*)()>(dlsym(lib_, "nvmlInit_v2"));
    auto by_bus = reinterpret_cast<int (*)(const char*, nvmlDevice_t*)>(dlsym(lib_, "nvmlDeviceGetHandleByPciBusId_v2"));
    auto by_index = reinterpret_cast<int (*)(unsigned, nvmlDevice_t*)>(dlsym(lib_, "nvmlDeviceGetHandleByIndex_v2"));
    util_ = reinterpret_cast<int (*)(nvmlDevice_t, nvmlUtilization_t*)>(dlsym(lib_, "nvmlDeviceGetUtilizationRates"));
    auto shutdown = reinterpret_cast<int (*)()>(dlsym(lib_, "nvmlShutdown"));
    if (!init || !by_bus || !by_index || !util_ || !shutdown) return fail(why, "NVML lacks the utilisation query");
    if (init() != kNvmlSuccess) return fail(why, "nvmlInit failed");
    shutdown_ = shutdown;
    const int e = bus.empty() ? by_index(0, &dev_) : by_bus(bus.c_str(), &dev_);
    if (e != kNvmlSuccess)
      return fail(why, "NVML cannot find the device " + (bus.empty() ? std::string("0") : bus) + " (error " +
                           std::to_string(e) + ")");
    name_ = "nvml:" + (bus.empty() ? std::string("index 0") : bus);
    UtilReading r;
    return read(&r, why);  // the first reading must work, or NVML is of no use here
  }
  bool read(UtilReading* r, std::string* why) override {
    nvmlUtilization_t u{};
    const int e = util_(dev_, &u);
    if (e != kNvmlSuccess) return fail(why, "nvmlDeviceGetUtilizationRates error " + std::to_string(e));
    r->gpu_percent = u.gpu;
    r->memory_percent = u.memory;
    return true;
  }
  std::string name() const override { return name_; }

 private:
  static bool fail(std::string* why, const std::string& m) {
    if (why) *why = m;
    return false;
  }
  void* lib_ = nullptr;
  int (*util_)(nvmlDevice_t, nvmlUtilization_t*) = nullptr;
  int (*shutdown_)() = nullptr;
  nvmlDevice_t dev_{};
  std::string name_;
};

nlohmann::json three(const std::vector<double>& v) {
  const Summary s = summarize(v);
  return {{"p50", s.p50}, {"mean", s.mean}, {"max", s.max}};
}

}  // namespace

std::unique_ptr<UtilSource> open_nvml_utilization(const std::string& pci_bus_id, std::string* why) {
  auto s = std::make_unique<NvmlUtil>();
  if (!s->open(pci_bus_id, why)) return nullptr;
  return s;
}

UtilSampler::UtilSampler(std::unique_ptr<UtilSource> source, double period_ms)
    : src_(std::move(source)), period_ms_(period_ms) {}

UtilSampler::~UtilSampler() {
  running_ = false;
  if (thread_.joinable()) thread_.join();
}

void UtilSampler::start() {
  if (running_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    samples_.clear();
    failed_ = 0;
    last_error_.clear();
  }
  running_ = true;
  thread_ = std::thread([this] { loop(); });
}

void UtilSampler::loop() {
  const auto t0 = Clock::now();
  auto next = t0;
  const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(period_ms_));
  while (running_) {
    UtilReading r;
    std::string why;
    const bool ok = src_->read(&r, &why);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (ok) samples_.push_back({seconds_since(t0), r});
      else {
        ++failed_;
        last_error_ = why;
      }
    }
    next += period;
    // Sleep in short slices so stop() returns within a few ms whatever the period.
    while (running_ && Clock::now() < next)
      std::this_thread::sleep_for(std::min<Clock::duration>(next - Clock::now(), std::chrono::milliseconds(5)));
  }
}

nlohmann::json UtilSampler::stop() {
  running_ = false;
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  return summarize_utilization(samples_, period_ms_, src_ ? src_->name() : "", failed_, last_error_);
}

std::vector<UtilSample> UtilSampler::samples() const {
  std::lock_guard<std::mutex> lock(mu_);
  return samples_;
}

nlohmann::json summarize_utilization(const std::vector<UtilSample>& samples, double period_ms, const std::string& source,
                                     int64_t failed_reads, const std::string& last_error) {
  if (samples.empty()) {
    nlohmann::json j = utilization_unavailable(failed_reads ? "every reading failed: " + last_error
                                                            : "no reading taken (the run was shorter than one period)");
    j["source"] = source;
    j["failed_reads"] = failed_reads;
    return j;
  }
  std::vector<double> g, m;
  for (auto& s : samples) {
    g.push_back(s.r.gpu_percent);
    m.push_back(s.r.memory_percent);
  }
  nlohmann::json j = {{"available", true},         {"source", source},         {"period_ms", period_ms},
                      {"samples", samples.size()}, {"failed_reads", failed_reads}, {"gpu_percent", three(g)},
                      {"memory_percent", three(m)}};
  if (failed_reads) j["last_error"] = last_error;
  return j;
}

nlohmann::json utilization_unavailable(const std::string& reason) { return {{"available", false}, {"reason", reason}}; }

}  // namespace qbench
