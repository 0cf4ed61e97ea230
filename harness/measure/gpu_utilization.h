#pragma once
// GPU utilisation over a run (issue 9): NVML's utilization.gpu (share of the
// last sample period in which a kernel ran) and utilization.memory (share in
// which device memory was read or written), sampled by a background thread and
// summarised as p50 / mean / max. libnvidia-ml is loaded at run time, so the
// CPU build needs no NVIDIA header or library; where it is absent the result
// says "unavailable" with the reason.
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace qbench {

struct UtilReading {
  double gpu_percent = 0;
  double memory_percent = 0;
};

// Where readings come from: NVML, or a fake in tests.
class UtilSource {
 public:
  virtual ~UtilSource() = default;
  // False (and *why) when this reading failed.
  virtual bool read(UtilReading* r, std::string* why) = 0;
  virtual std::string name() const = 0;
};

// The NVML device with this PCI bus id ("0000:3B:00.0"; empty: NVML's device 0).
// nullptr and *why when NVML is missing or does not know the device.
std::unique_ptr<UtilSource> open_nvml_utilization(const std::string& pci_bus_id, std::string* why);

struct UtilSample {
  double t_s;  // since start()
  UtilReading r;
};

// Reads a source every period_ms on its own thread between start() and stop().
class UtilSampler {
 public:
  UtilSampler(std::unique_ptr<UtilSource> source, double period_ms);
  ~UtilSampler();
  UtilSampler(const UtilSampler&) = delete;
  UtilSampler& operator=(const UtilSampler&) = delete;

  void start();  // drops earlier samples
  // Stops the thread and returns the summary of what it read (summarize_utilization).
  nlohmann::json stop();
  std::vector<UtilSample> samples() const;

 private:
  void loop();
  std::unique_ptr<UtilSource> src_;
  double period_ms_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  mutable std::mutex mu_;
  std::vector<UtilSample> samples_;
  int64_t failed_ = 0;
  std::string last_error_;
};

// {"available": true, "source", "period_ms", "samples", "failed_reads",
//  "gpu_percent": {"p50", "mean", "max"}, "memory_percent": {...}};
// with no samples: {"available": false, "reason": ...}.
nlohmann::json summarize_utilization(const std::vector<UtilSample>& samples, double period_ms, const std::string& source,
                                     int64_t failed_reads = 0, const std::string& last_error = "");
nlohmann::json utilization_unavailable(const std::string& reason);

}  // namespace qbench
