#include "datasets/mmlu/mc_dataset.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "datasets/mmlu/csv_reader.h"
#include "datasets/mmlu/subject_categories.h"
#include "engines/core/error.h"

namespace fs = std::filesystem;

namespace qbench {

namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_cmmlu_header(const CsvRow& r) {
  return r.fields.size() == 7 && r.fields[1] == "Question" && r.fields[6] == "Answer";
}

// Subject stem -> test file, per layout.
std::string test_file(const std::string& dir, const std::string& subject, McLayout l) {
  return (fs::path(dir) / "test" / (l == McLayout::Hendrycks ? subject + "_test.csv" : subject + ".csv")).string();
}
std::string dev_file(const std::string& dir, const std::string& subject, McLayout l) {
  return (fs::path(dir) / "dev" / (l == McLayout::Hendrycks ? subject + "_dev.csv" : subject + ".csv")).string();
}

std::vector<std::string> list_subjects(const std::string& dir, McLayout l) {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(fs::path(dir) / "test")) {
    const std::string n = e.path().filename().string();
    if (!e.is_regular_file() || !ends_with(n, ".csv")) continue;
    if (l == McLayout::Hendrycks) {
      if (ends_with(n, "_test.csv")) out.push_back(n.substr(0, n.size() - 9));
    } else {
      out.push_back(n.substr(0, n.size() - 4));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

const char* mc_layout_name(McLayout l) { return l == McLayout::Hendrycks ? "mmlu" : "cmmlu"; }

int64_t McDataset::test_questions() const {
  int64_t n = 0;
  for (auto& s : subjects) n += int64_t(s.test.size());
  return n;
}

std::vector<McQuestion> load_mc_file(const std::string& path, McLayout layout) {
  const std::vector<CsvRow> rows = read_csv_file(path);
  std::vector<McQuestion> out;
  const size_t want = layout == McLayout::Hendrycks ? 6 : 7;
  const size_t first = layout == McLayout::Hendrycks ? 0 : 1;  // CMMLU: skip the index column
  for (size_t r = 0; r < rows.size(); ++r) {
    const CsvRow& row = rows[r];
    if (layout == McLayout::Cmmlu && r == 0) {
      if (!is_cmmlu_header(row))
        throw Error(path + ":" + std::to_string(row.line) + ": expected the CMMLU header ',Question,A,B,C,D,Answer'");
      continue;
    }
    if (row.fields.size() != want)
      throw Error(path + ":" + std::to_string(row.line) + ": expected " + std::to_string(want) + " fields, found " +
                  std::to_string(row.fields.size()));
    McQuestion q;
    q.question = row.fields[first];
    for (int c = 0; c < 4; ++c) q.choices[size_t(c)] = row.fields[first + 1 + size_t(c)];
    const std::string ans = trim(row.fields[first + 5]);
    if (ans.size() != 1 || ans[0] < 'A' || ans[0] > 'D')
      throw Error(path + ":" + std::to_string(row.line) + ": answer must be one of A, B, C, D (found '" + ans + "')");
    q.answer = ans[0] - 'A';
    q.file = path;
    q.line = row.line;
    out.push_back(std::move(q));
  }
  return out;
}

McLayout detect_mc_layout(const std::string& dir) {
  const fs::path test = fs::path(dir) / "test";
  if (!fs::is_directory(test)) throw Error(dir + ": not an MMLU-format dataset (no test/ folder)");
  bool any_csv = false;
  for (auto& e : fs::directory_iterator(test)) {
    const std::string n = e.path().filename().string();
    if (ends_with(n, "_test.csv")) return McLayout::Hendrycks;
    if (ends_with(n, ".csv")) any_csv = true;
  }
  if (any_csv) return McLayout::Cmmlu;
  throw Error(test.string() + ": holds no .csv files");
}

McDataset load_mc_dataset(const std::string& dir, const std::vector<std::string>& subjects) {
  McDataset ds;
  ds.root = dir;
  ds.layout = detect_mc_layout(dir);
  const std::vector<std::string> available = list_subjects(dir, ds.layout);
  std::vector<std::string> chosen = subjects.empty() ? available : subjects;
  const std::set<std::string> avail(available.begin(), available.end());
  for (auto& s : chosen) {
    if (avail.count(s)) continue;
    std::string list;
    for (auto& a : available) list += (list.empty() ? "" : ", ") + a;
    throw Error(dir + ": no subject '" + s + "' (available: " + list + ")");
  }
  std::sort(chosen.begin(), chosen.end());
  chosen.erase(std::unique(chosen.begin(), chosen.end()), chosen.end());
  for (auto& name : chosen) {
    McSubject s;
    s.name = name;
    if (ds.layout == McLayout::Hendrycks) {
      s.category = mmlu_category(name);
      if (s.category.empty()) s.category = "other";
    } else {
      s.category = cmmlu_category(name);
      if (s.category.empty()) s.category = "Other";
    }
    s.test = load_mc_file(test_file(dir, name, ds.layout), ds.layout);
    const std::string dev = dev_file(dir, name, ds.layout);
    if (fs::exists(dev)) s.dev = load_mc_file(dev, ds.layout);
    ds.subjects.push_back(std::move(s));
  }
  return ds;
}

}  // namespace qbench
