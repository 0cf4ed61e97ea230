#include "harness/matrix/matrix_runner.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engines/core/error.h"
#include "harness/measure/atomic_file.h"
#include "harness/measure/run_context.h"
#include "workloads/progress.h"

namespace fs = std::filesystem;

namespace qbench::matrix {

std::string cell_result_path(const std::string& out_dir, const Cell& c) { return out_dir + "/cells/" + c.id + ".json"; }
std::string cell_error_path(const std::string& out_dir, const Cell& c) { return out_dir + "/cells/" + c.id + ".error.json"; }

namespace {

bool valid_result(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  const auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  return !j.is_discarded() && j.is_object() && j.value("schema", "") == "qbench.result";
}

std::vector<std::string> child_args(const MatrixSpec& s, const Cell& c, const std::string& exe, const std::string& out) {
  // Accuracy workloads live under `qbench eval`; speed workloads under `qbench run`.
  const std::string& wl = c.workload->workload;
  std::vector<std::string> a = {exe};
  if (wl == "mmlu") a.insert(a.end(), {"eval", "mmlu"});
  else if (wl == "perplexity" || wl == "ppl") a.insert(a.end(), {"eval", "ppl"});
  else a.insert(a.end(), {"run", "--workload", wl});
  a.insert(a.end(), {"--model", c.model_path, "--backend", c.backend, "--device", c.device});
  if (s.threads > 0) a.insert(a.end(), {"--threads", std::to_string(s.threads)});
  for (const auto& [k, v] : c.workload->args) {
    a.push_back("--" + k);
    if (!v.empty()) a.push_back(v);
  }
  a.insert(a.end(), {"--quiet", "--out", out});
  return a;
}

struct ChildStatus {
  bool ok = false;
  std::string how;  // "exit 1", "signal 9"
};

// fork + exec with stdout and stderr into the cell's log.
ChildStatus run_child(const std::vector<std::string>& args, const std::string& log) {
  std::vector<char*> argv;
  for (const auto& s : args) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(log + ": cannot create log: " + std::strerror(errno));
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fd);
    throw Error(std::string("cannot start a cell process: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execv(argv[0], argv.data());
    std::fprintf(stderr, "qbench: error: cannot execute %s: %s\n", argv[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(fd);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) throw Error(std::string("waitpid: ") + std::strerror(errno));
  ChildStatus cs;
  if (WIFEXITED(st)) {
    cs.ok = WEXITSTATUS(st) == 0;
    cs.how = "exit " + std::to_string(WEXITSTATUS(st));
  } else if (WIFSIGNALED(st)) {
    cs.how = "signal " + std::to_string(WTERMSIG(st)) + " (" + strsignal(WTERMSIG(st)) + ")";
  }
  return cs;
}

// The child's own message: the last "error:" line of its log, else its last line.
std::string failure_message(const std::string& log) {
  std::ifstream in(log);
  std::string line, last, err;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    last = line;
    if (line.find("error:") != std::string::npos || line.find("out of memory") != std::string::npos) err = line;
  }
  std::string m = err.empty() ? last : err;
  if (m.size() > 2000) m = m.substr(0, 2000) + "...";
  return m;
}

nlohmann::json cell_json(const MatrixSpec& s, const Cell& c) {
  return {{"matrix", s.name}, {"cell", c.id},         {"model", c.model},         {"model_path", c.model_path},
          {"backend", c.backend}, {"device", c.device}, {"workload", c.workload->name}, {"repetition", c.repetition}};
}

}  // namespace

RunSummary run_matrix(const MatrixSpec& spec, const RunOptions& o) {
  const auto cells = enumerate_cells(spec);
  if (cells.empty()) throw Error("matrix " + spec.name + ": no cells (no model has a path for any listed backend)");
  const std::string out = spec.output_dir;
  RunSummary sum;
  sum.total = int(cells.size());
  std::vector<const Cell*> todo;
  int existing = 0;
  for (const auto& c : cells) {
    const bool has = valid_result(cell_result_path(out, c));
    existing += has;
    if (has && !o.force) {
      ++sum.skipped;
      continue;
    }
    todo.push_back(&c);
  }
  if (existing > 0 && !o.resume && !o.force)
    throw Error(out + " already holds " + std::to_string(existing) + " cell result(s): --resume finishes the matrix, --force runs every cell again");
  fs::create_directories(out + "/cells");
  fs::create_directories(out + "/logs");
  fs::create_directories(out + "/tmp");
  write_json_atomic(out + "/spec.json", spec.source);
  if (o.progress && sum.skipped)
    std::fprintf(stderr, "matrix %s: %d of %d cells already have results, %zu to run\n", spec.name.c_str(), sum.skipped, sum.total,
                 todo.size());
  Progress prog(o.progress);
  int done = 0;
  for (const Cell* c : todo) {
    prog.update("matrix " + spec.name + ": running " + c->id, done, int64_t(todo.size()));
    const std::string tmp = out + "/tmp/" + c->id + ".json", log = out + "/logs/" + c->id + ".log";
    std::error_code ec;
    fs::remove(tmp, ec);
    const auto t0 = std::chrono::steady_clock::now();
    ChildStatus st = run_child(child_args(spec, *c, o.qbench_exe, tmp), log);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    nlohmann::json result;
    if (st.ok) {
      std::ifstream in(tmp, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      result = nlohmann::json::parse(ss.str(), nullptr, false);
      if (result.is_discarded() || !result.is_object() || result.value("schema", "") != "qbench.result") {
        st.ok = false;
        st.how = "exit 0 without a result file";
      }
    }
    if (st.ok) {
      result["matrix"] = cell_json(spec, *c);
      write_json_atomic(cell_result_path(out, *c), result);
      fs::remove(cell_error_path(out, *c), ec);
      ++sum.ok;
    } else {
      const std::string msg = failure_message(log);
      write_json_atomic(cell_error_path(out, *c),
                        {{"schema", "qbench.cell_error"}, {"schema_version", 1}, {"cell", cell_json(spec, *c)}, {"status", st.how},
                         {"message", msg}, {"log", log}, {"seconds", secs}, {"finished_at_utc", utc_now_iso8601()}});
      prog.finish();
      std::fprintf(stderr, "matrix %s: cell %s FAILED (%s): %s\n", spec.name.c_str(), c->id.c_str(), st.how.c_str(), msg.c_str());
      ++sum.failed;
      sum.failed_ids.push_back(c->id);
    }
    fs::remove(tmp, ec);
    ++done;
  }
  prog.update("matrix " + spec.name + ": done", done, int64_t(todo.size()));
  prog.finish();
  return sum;
}

}  // namespace qbench::matrix
