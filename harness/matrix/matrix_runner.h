#pragma once
// Runs a matrix: each cell is a child `qbench run` process (a crashing cell
// cannot take the matrix down; an interruption loses at most the running
// cell). The child writes to a temporary file; the runner adds the cell's
// identity and publishes <out>/cells/<id>.json atomically, or
// <id>.error.json with the failure. --resume skips cells with a result.
// Compiled from harness/cli/matrix_runner.cpp.
#include <string>
#include <vector>

#include "harness/matrix/matrix_spec.h"

namespace qbench::matrix {

struct RunOptions {
  std::string qbench_exe = "/proc/self/exe";
  bool resume = false;  // skip cells that have a result
  bool force = false;   // run every cell again, replacing results
  bool progress = true;
};

struct RunSummary {
  int total = 0, skipped = 0, ok = 0, failed = 0;
  std::vector<std::string> failed_ids;
};

std::string cell_result_path(const std::string& out_dir, const Cell& c);
std::string cell_error_path(const std::string& out_dir, const Cell& c);

// Throws qbench::Error before running anything when the output directory
// already holds results and neither resume nor force is set.
RunSummary run_matrix(const MatrixSpec& spec, const RunOptions& o);

}  // namespace qbench::matrix
