#pragma once
// MMLU-format multiple-choice datasets on disk.
//  Hendrycks layout (MMLU, MMLU-Redux): dev/<subject>_dev.csv, test/<subject>_test.csv,
//    no header, rows question,A,B,C,D,answer (answer a letter A-D).
//  CMMLU layout: dev/<subject>.csv, test/<subject>.csv, header ",Question,A,B,C,D,Answer",
//    rows index,question,A,B,C,D,answer.
// Every question remembers its file and line so errors and reports can point at it.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace qbench {

enum class McLayout { Hendrycks, Cmmlu };
const char* mc_layout_name(McLayout l);  // "mmlu" | "cmmlu"

struct McQuestion {
  std::string question;
  std::array<std::string, 4> choices;
  int answer = 0;  // 0..3 = A..D
  std::string file;
  int64_t line = 0;
};

struct McSubject {
  std::string name;      // file stem, e.g. "abstract_algebra"
  std::string category;  // from subject_categories.h; "other" (MMLU) / "Other" (CMMLU) when unknown
  std::vector<McQuestion> dev, test;
};

struct McDataset {
  McLayout layout = McLayout::Hendrycks;
  std::string root;
  std::vector<McSubject> subjects;  // sorted by name
  int64_t test_questions() const;
};

// Detects the layout from the file names in DIR/test (and the CMMLU header).
McLayout detect_mc_layout(const std::string& dir);

// Loads DIR. `subjects` empty = all; otherwise exactly those (unknown names are an error that
// lists what DIR holds). Missing dev files leave dev empty (zero-shot still works).
McDataset load_mc_dataset(const std::string& dir, const std::vector<std::string>& subjects = {});

// One file's rows in the given layout (exposed for tests and tools).
std::vector<McQuestion> load_mc_file(const std::string& path, McLayout layout);

}  // namespace qbench
