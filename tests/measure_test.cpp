// The measurement layer: statistics, atomic result files, process memory,
// system facts, provenance, perf counters, thread placement and the roofline
// probes' plumbing. No timing assertions: speed is measured in bench/.
#include <catch2/catch.hpp>

#include <sys/mman.h>
#include <hwloc.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "engines/core/error.h"
#include "harness/measure/atomic_file.h"
#include "harness/measure/clock.h"
#include "harness/measure/hwloc_topology.h"
#include "harness/measure/perf_counters.h"
#include "harness/measure/process_memory.h"
#include "harness/measure/roofline.h"
#include "harness/measure/run_context.h"
#include "harness/measure/stats.h"
#include "harness/measure/sysinfo.h"
#include "harness/measure/thread_pinning.h"

namespace fs = std::filesystem;
using namespace qbench;

namespace {

// A fresh directory under the system temp dir, removed when the guard dies.
struct ScratchDir {
  fs::path path;
  ScratchDir() {
    std::string tmpl = (fs::temp_directory_path() / "qbench-measure-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path, ec);
  }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// CPU time the calling thread has used, in seconds.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

double burn_cpu(double seconds) {
  const double t0 = thread_cpu_seconds();
  volatile double x = 1.0;
  while (thread_cpu_seconds() - t0 < seconds)
    for (int i = 0; i < 10000; ++i) x = x * 1.0000001 + 1e-9;
  return thread_cpu_seconds() - t0;
}

}  // namespace

// ---------------------------------------------------------------- statistics

TEST_CASE("percentile matches numpy's linear method", "[measure]") {
  const std::vector<double> one_to_ten = {10, 1, 9, 2, 8, 3, 7, 4, 6, 5};  // order must not matter
  CHECK(percentile(one_to_ten, 50) == Approx(5.5));
  CHECK(percentile(one_to_ten, 90) == Approx(9.1));
  CHECK(percentile(one_to_ten, 99) == Approx(9.91));
  CHECK(percentile(one_to_ten, 0) == 1.0);
  CHECK(percentile(one_to_ten, 100) == 10.0);
  // numpy.percentile([1, 2, 3, 4], 25) == 1.75; [7] -> 7 at any p.
  CHECK(percentile({1, 2, 3, 4}, 25) == Approx(1.75));
  CHECK(percentile({7}, 37) == 7.0);
}

TEST_CASE("percentile rejects empty input and p outside [0, 100]", "[measure]") {
  CHECK_THROWS_AS(percentile({}, 50), Error);
  CHECK_THROWS_AS(percentile({1, 2}, -1), Error);
  CHECK_THROWS_AS(percentile({1, 2}, 100.5), Error);
  CHECK_THROWS_AS(summarize({}), Error);
}

TEST_CASE("summarize gives moments, extremes and percentiles", "[measure]") {
  const Summary s = summarize({2, 4, 4, 4, 5, 5, 7, 9});
  CHECK(s.n == 8);
  CHECK(s.mean == Approx(5.0));
  CHECK(s.stddev == Approx(std::sqrt(32.0 / 7.0)));  // sample standard deviation
  CHECK(s.min == 2.0);
  CHECK(s.max == 9.0);
  CHECK(s.p50 == Approx(4.5));
  CHECK(s.p90 == Approx(7.6));   // h = 6.3: 7 + 0.3 * (9 - 7)
  CHECK(s.p99 == Approx(8.86));  // h = 6.93
  CHECK(summarize({3}).stddev == 0.0);

  const auto j = s.to_json();
  for (const char* k : {"n", "mean", "stddev", "min", "max", "p50", "p90", "p99"}) CHECK(j.contains(k));
  CHECK(j["n"] == 8);
}

TEST_CASE("seconds_since is monotonic and non-negative", "[measure]") {
  const auto t0 = Clock::now();
  const double a = seconds_since(t0), b = seconds_since(t0);
  CHECK(a >= 0.0);
  CHECK(b >= a);
}

// -------------------------------------------------------------- atomic files

TEST_CASE("write_file_atomic writes complete files and leaves no temporaries", "[measure]") {
  ScratchDir dir;
  const fs::path target = dir.path / "nested" / "deeper" / "result.json";
  const std::string big(1 << 20, 'x');

  write_file_atomic(target.string(), big);
  CHECK(slurp(target) == big);
  CHECK(entries(target.parent_path()) == std::vector<std::string>{"result.json"});

  write_file_atomic(target.string(), "second");  // overwrite
  CHECK(slurp(target) == "second");
  CHECK(entries(target.parent_path()) == std::vector<std::string>{"result.json"});

  write_file_atomic(target.string(), "");
  CHECK(fs::file_size(target) == 0);
}

TEST_CASE("write_json_atomic pretty-prints with a trailing newline", "[measure]") {
  ScratchDir dir;
  const fs::path target = dir.path / "r.json";
  const nlohmann::json j = {{"a", 1}, {"b", {1, 2}}, {"text", std::string("cut \xe4")}};
  write_json_atomic(target.string(), j);
  const std::string text = slurp(target);
  CHECK(text.back() == '\n');
  CHECK(text.find("\n  \"a\": 1") != std::string::npos);  // indent 2
  const auto back = nlohmann::json::parse(text);
  CHECK(back["b"] == j["b"]);
  CHECK(back["text"] == "cut \xef\xbf\xbd");  // invalid UTF-8 replaced, not a failed write
}

TEST_CASE("write_file_atomic throws an Error naming the path it cannot write", "[measure]") {
  ScratchDir dir;
  const fs::path blocker = dir.path / "not-a-dir";
  write_file_atomic(blocker.string(), "plain file");
  const std::string under_file = (blocker / "out.json").string();
  try {
    write_file_atomic(under_file, "x");
    FAIL("expected qbench::Error");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::Contains(under_file));
  }

  if (geteuid() != 0) {  // root ignores directory permissions
    const fs::path locked = dir.path / "locked";
    fs::create_directory(locked);
    fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
    const std::string path = (locked / "out.json").string();
    try {
      write_file_atomic(path, "x");
      FAIL("expected qbench::Error");
    } catch (const Error& e) {
      CHECK_THAT(e.what(), Catch::Contains(path));
    }
  }
}

// ------------------------------------------------------------ process memory

TEST_CASE("read_process_memory sees RSS grow and the peak follow", "[measure]") {
  const ProcessMemory before = read_process_memory();
  REQUIRE(before.rss_bytes > 0);
  CHECK(before.peak_rss_bytes >= before.rss_bytes);

  constexpr size_t kBytes = 64u << 20;
  std::vector<char> block(kBytes);
  std::memset(block.data(), 1, block.size());  // touch every page
  const ProcessMemory during = read_process_memory();
  CHECK(during.rss_bytes >= before.rss_bytes + kBytes / 2);
  CHECK(during.peak_rss_bytes >= during.rss_bytes);
  CHECK(during.peak_rss_bytes >= kBytes);
  CHECK(during.rss_anon_bytes >= kBytes / 2);
  CHECK(during.to_json()["peak_rss_bytes"] == during.peak_rss_bytes);
  volatile char sink = block[kBytes - 1];
  (void)sink;
}

TEST_CASE("reset_peak_rss lowers VmHWM where the kernel allows it", "[measure]") {
  {
    std::vector<char> block(96u << 20);
    std::memset(block.data(), 1, block.size());
  }
  const ProcessMemory after_free = read_process_memory();
  reset_peak_rss();  // never throws
  if (!try_reset_peak_rss()) {
    WARN("/proc/self/clear_refs is not writable here: VmHWM cannot be reset");
    return;
  }
  const ProcessMemory reset = read_process_memory();
  CHECK(reset.peak_rss_bytes >= reset.rss_bytes);
  CHECK(reset.peak_rss_bytes < after_free.peak_rss_bytes);
}

// ---------------------------------------------------------------- sysinfo

TEST_CASE("collect_system_info reports the machine", "[measure]") {
  const SystemInfo s = collect_system_info();
  CHECK(s.cpu.cores >= 1);
  CHECK(s.cpu.threads >= s.cpu.cores);
  CHECK(s.cpu.packages >= 1);
  CHECK(s.cpu.numa_nodes >= 1);
  CHECK_FALSE(s.cpu.model.empty());
  CHECK(s.memory_bytes > 0);
  CHECK_FALSE(s.hostname.empty());
  CHECK_FALSE(s.kernel.empty());
  for (const auto& f : s.cpu.flags) CHECK_FALSE(f.empty());
  for (const auto& g : s.gpus) CHECK_FALSE(g.name.empty());

  const auto j = s.to_json();
  CHECK(j["cpu"]["cores"] == s.cpu.cores);
  CHECK(j["memory_bytes"] == s.memory_bytes);
  CHECK(j["gpus"].is_array());
  CHECK(collect_system_info().hostname == s.hostname);  // cached

  const std::string text = format_system_info(s);
  CHECK_THAT(text, Catch::Contains(s.cpu.model));
  CHECK_THAT(text, Catch::Contains(s.hostname));
}

// ------------------------------------------------------------ run context

TEST_CASE("make_run_context records revision and a re-runnable command line", "[measure]") {
  std::vector<std::string> args = {"qbench", "run", "--prompt", "a b", "it's", "", "x=1,y/z"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  const RunContext ctx = make_run_context(int(argv.size()), argv.data());

  CHECK(ctx.command_line == "qbench run --prompt 'a b' 'it'\\''s' '' x=1,y/z");
  CHECK(ctx.git_revision == build_git_revision());  // QBENCH_GIT_REV as configured
  CHECK(std::regex_match(ctx.git_revision, std::regex("([0-9a-f]{7,40}(-dirty)?)|unknown")));
  CHECK(ctx.qbench_version == build_version());
  CHECK_FALSE(ctx.qbench_version.empty());
  CHECK(std::regex_match(ctx.started_at_utc, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  CHECK(ctx.hostname == collect_system_info().hostname);

  const auto j = ctx.to_json();
  CHECK(j["command_line"] == ctx.command_line);
  CHECK(j["git_revision"] == ctx.git_revision);
  CHECK(j["environment"].is_object());
  CHECK(shell_quote("plain-word_1.2") == "plain-word_1.2");
  CHECK(shell_quote("$HOME") == "'$HOME'");
}

TEST_CASE("engine_environment keeps the variables that change what runs", "[measure]") {
  std::vector<std::string> vars = {"QBENCH_CUDA_GRAPHS=0", "OMP_NUM_THREADS=2", "HOME=/root", "QBENCH_EMPTY=",
                                   "NOEQUALS", "XQBENCH_Y=1"};
  std::vector<char*> env;
  for (auto& v : vars) env.push_back(v.data());
  env.push_back(nullptr);
  const auto m = engine_environment(env.data());
  CHECK(m.size() == 3);
  CHECK(m.at("QBENCH_CUDA_GRAPHS") == "0");
  CHECK(m.at("OMP_NUM_THREADS") == "2");
  CHECK(m.at("QBENCH_EMPTY").empty());
  CHECK(engine_environment(nullptr).empty());
}

// ----------------------------------------------------------- perf counters

TEST_CASE("PerfCounters never throws and accounts for every requested event", "[measure]") {
  // A thread that exists before the counters are opened must be counted too.
  std::atomic<bool> go{false};
  double early_thread_cpu = 0.0;
  std::thread early([&] {
    while (!go.load()) std::this_thread::yield();
    early_thread_cpu = burn_cpu(0.05);
  });

  PerfCounters pc;
  pc.start();
  go = true;
  early.join();
  double late_thread_cpu = 0.0;  // created after start: counted through inherit
  std::thread late([&] { late_thread_cpu = burn_cpu(0.05); });
  late.join();
  // Fresh anonymous pages always fault when first written (a heap block could be
  // memory an earlier test already touched, and then nothing faults).
  const size_t bytes = 16u << 20;
  void* pages = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(pages != MAP_FAILED);
  std::memset(pages, 1, bytes);
  munmap(pages, bytes);
  pc.stop();

  const auto j = pc.to_json();
  INFO(j.dump(2));
  REQUIRE(j["available"].is_object());
  REQUIRE(j["unavailable"].is_object());
  REQUIRE(j["derived"].is_object());
  for (const auto& name : PerfCounters::event_names()) {
    const bool a = j["available"].contains(name), u = j["unavailable"].contains(name);
    CHECK(a != u);
    if (u) CHECK_FALSE(j["unavailable"][name].get<std::string>().empty());
    if (a) CHECK(pc.value(name).has_value());
  }
  CHECK_FALSE(pc.value("no-such-event").has_value());

  const std::string paranoid = [] {
    std::ifstream in("/proc/sys/kernel/perf_event_paranoid");
    std::string s;
    in >> s;
    return s;
  }();
  if (j["available"].contains("task-clock")) {
    // Both threads' CPU time shows up: live threads are opened one by one, new ones inherit.
    CHECK(*pc.value("task-clock") * 1e-9 >= 0.8 * (early_thread_cpu + late_thread_cpu));
    CHECK(*pc.value("page-faults") > 0);
    CHECK(j["derived"].contains("cpus_utilized"));
  } else {
    // Only a perf_event_paranoid (or a kernel without perf) may take away a software event.
    CHECK_THAT(j["unavailable"]["task-clock"].get<std::string>(),
               Catch::Contains("perf_event_paranoid") || Catch::Contains("perf_event_open"));
  }
  if (!fs::exists("/sys/bus/event_source/devices/cpu") && !fs::exists("/sys/bus/event_source/devices/cpu_core")) {
    // A VM without a virtual PMU: hardware events are unavailable, with a reason.
    CHECK(j["unavailable"].contains("cycles"));
    CHECK_FALSE(j["derived"].contains("ipc"));
  }

  // A second phase measures only itself and stop/start never throw.
  pc.start();
  pc.stop();
  if (j["available"].contains("task-clock"))
    CHECK(*pc.value("task-clock") * 1e-9 < early_thread_cpu + late_thread_cpu);
}

TEST_CASE("PerfCounters before start reports events as opened but unmeasured", "[measure]") {
  PerfCounters pc;
  const auto j = pc.to_json();
  for (const auto& name : PerfCounters::event_names())
    CHECK((j["available"].contains(name) || j["unavailable"].contains(name)));
  for (const auto& [name, v] : j["available"].items()) CHECK(v.is_null());
}

// --------------------------------------------------------- thread placement

TEST_CASE("parse_pin_policy accepts none, compact and scatter only", "[measure]") {
  CHECK(parse_pin_policy("none") == PinPolicy::None);
  CHECK(parse_pin_policy("compact") == PinPolicy::Compact);
  CHECK(parse_pin_policy("scatter") == PinPolicy::Scatter);
  for (const char* bad : {"", "Compact", "spread", "close"}) CHECK_THROWS_AS(parse_pin_policy(bad), Error);
  for (auto p : {PinPolicy::None, PinPolicy::Compact, PinPolicy::Scatter}) CHECK(parse_pin_policy(to_string(p)) == p);
}

TEST_CASE("plan_thread_placement uses allowed PUs, distinct until they run out", "[measure]") {
  const int pus = collect_system_info().cpu.threads;
  CHECK(plan_thread_placement(PinPolicy::None, 4).empty());
  hwloc_const_cpuset_t allowed = hwloc_topology_get_allowed_cpuset(machine_topology());
  for (auto policy : {PinPolicy::Compact, PinPolicy::Scatter}) {
    const auto cpus = plan_thread_placement(policy, pus + 1);
    REQUIRE(cpus.size() == size_t(pus + 1));
    for (int c : cpus) CHECK(hwloc_bitmap_isset(allowed, unsigned(c)));
    const std::set<int> distinct(cpus.begin(), cpus.end() - 1);
    CHECK(distinct.size() == size_t(pus));
    CHECK(cpus.back() == cpus.front());  // oversubscription wraps around
  }
}

TEST_CASE("apply_thread_pinning binds OpenMP workers and describes it", "[measure]") {
  const nlohmann::json none = apply_thread_pinning(PinPolicy::None, 2);
  CHECK(none["policy"] == "none");
  CHECK(none["cpus"].empty());
  CHECK_THROWS_AS(apply_thread_pinning(PinPolicy::Compact, 0), Error);

  // In a thread of its own: binding its OpenMP team must not pin the test runner.
  const int threads = std::min(2, collect_system_info().cpu.threads);
  nlohmann::json j;
  std::vector<int> where(size_t(threads), -1);
  std::thread([&] {
    j = apply_thread_pinning(PinPolicy::Compact, threads);
#pragma omp parallel num_threads(threads)
    {
      hwloc_bitmap_t set = hwloc_bitmap_alloc();
      if (hwloc_get_cpubind(machine_topology(), set, HWLOC_CPUBIND_THREAD) == 0 && hwloc_bitmap_weight(set) == 1)
        where[size_t(omp_get_thread_num())] = hwloc_bitmap_first(set);
      hwloc_bitmap_free(set);
    }
  }).join();
  INFO(j.dump());
  CHECK(j["policy"] == "compact");
  CHECK(j["threads"] == threads);
  CHECK_FALSE(j.contains("errors"));
  REQUIRE(j["cpus"].size() == size_t(threads));
  for (int t = 0; t < threads; ++t) CHECK(where[size_t(t)] == j["cpus"][size_t(t)].get<int>());  // the pool kept its binding
}

// ----------------------------------------------------------------- roofline

TEST_CASE("roofline probes run on small sizes and validate arguments", "[measure]") {
  CHECK(measure_read_bandwidth_gbs(1, 1 << 20, 1) > 0.0);
  CHECK(measure_copy_bandwidth_gbs(2, 1 << 20, 1) > 0.0);
  CHECK(measure_fp32_gemm_gflops(2, 48, 1) > 0.0);
  CHECK_THROWS_AS(measure_read_bandwidth_gbs(0), Error);
  CHECK_THROWS_AS(measure_copy_bandwidth_gbs(1, 16), Error);
  CHECK_THROWS_AS(measure_fp32_gemm_gflops(1, 1024, 0), Error);

  const Roofline r{10.0, 12.0, 100.0, 2};
  const auto j = r.to_json();
  CHECK(j["read_bandwidth_gbs"] == 10.0);
  CHECK(j["copy_bandwidth_gbs"] == 12.0);
  CHECK(j["fp32_gemm_gflops"] == 100.0);
  CHECK(j["threads"] == 2);
}
