// CSV parsing, the Hendrycks and CMMLU loaders and the subject -> category maps.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "datasets/mmlu/csv_reader.h"
#include "datasets/mmlu/mc_dataset.h"
#include "datasets/mmlu/subject_categories.h"
#include "engines/core/error.h"
#include "tests/support/test_paths.h"

using namespace qbench;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << s;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("csv: quoted fields, doubled quotes, embedded newlines, CRLF, BOM, UTF-8", "[mmlu][csv]") {
  const std::string text =
      "\xEF\xBB\xBFplain,\"with, comma\",\"say \"\"hi\"\"\",\"two\nlines\",\xE4\xB8\xAD\xE6\x96\x87\r\n"
      "a,b,c,d,e\n"
      "\n"
      "last,,\"\",x,y";
  const auto rows = parse_csv(text, "mem.csv");
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].fields == std::vector<std::string>{"plain", "with, comma", "say \"hi\"", "two\nlines", "\xE4\xB8\xAD\xE6\x96\x87"});
  CHECK(rows[0].line == 1);
  CHECK(rows[1].line == 3);  // the quoted newline advanced the line count
  CHECK(rows[2].line == 5);  // blank line 4 skipped
  CHECK(rows[2].fields == std::vector<std::string>{"last", "", "", "x", "y"});
}

TEST_CASE("csv: malformed input names file and line", "[mmlu][csv]") {
  CHECK_THAT(error_of([] { parse_csv("a,b\nc,\"open\nnever closed", "f.csv"); }), Catch::Contains("f.csv:2") && Catch::Contains("never closed"));
  CHECK_THAT(error_of([] { parse_csv("a,b\nx,ab\"c\n", "g.csv"); }), Catch::Contains("g.csv:2") && Catch::Contains("quote"));
  CHECK_THAT(error_of([] { parse_csv("a,\"q\"z\n", "h.csv"); }), Catch::Contains("h.csv:1"));
  CHECK_THAT(error_of([] { parse_csv("ok\nbad \xC3\x28\n", "u.csv"); }), Catch::Contains("u.csv:2") && Catch::Contains("UTF-8"));
}

TEST_CASE("hendrycks loader: rows, answers, errors with file and line", "[mmlu][dataset]") {
  const fs::path d = test::temp_dir("mmlu_h");
  write(d / "dev" / "anatomy_dev.csv", "Q1?,a,b,c,d,B\n");
  write(d / "test" / "anatomy_test.csv", "\"Multi\nline?\",a,b,c,d,D\nQ3,\"x, y\",b,c,d,A\n");
  write(d / "test" / "virology_test.csv", "Q,a,b,c,d,C\n");
  const McDataset ds = load_mc_dataset(d.string());
  CHECK(ds.layout == McLayout::Hendrycks);
  REQUIRE(ds.subjects.size() == 2);
  CHECK(ds.subjects[0].name == "anatomy");
  CHECK(ds.subjects[0].category == "other");
  CHECK(ds.subjects[0].dev.size() == 1);
  REQUIRE(ds.subjects[0].test.size() == 2);
  CHECK(ds.subjects[0].test[0].question == "Multi\nline?");
  CHECK(ds.subjects[0].test[0].answer == 3);
  CHECK(ds.subjects[0].test[1].choices[0] == "x, y");
  CHECK(ds.subjects[0].test[1].line == 3);
  CHECK(ds.subjects[1].dev.empty());
  CHECK(ds.test_questions() == 3);
  CHECK(load_mc_dataset(d.string(), {"virology"}).subjects.size() == 1);
  CHECK_THAT(error_of([&] { load_mc_dataset(d.string(), {"astrology"}); }), Catch::Contains("astrology") && Catch::Contains("anatomy, virology"));

  write(d / "test" / "virology_test.csv", "Q,a,b,c,d,C\nQ2,a,b,c,d,E\n");
  CHECK_THAT(error_of([&] { load_mc_dataset(d.string()); }), Catch::Contains("virology_test.csv:2") && Catch::Contains("A, B, C, D"));
  write(d / "test" / "virology_test.csv", "Q,a,b,c,C\n");
  CHECK_THAT(error_of([&] { load_mc_dataset(d.string()); }), Catch::Contains("virology_test.csv:1") && Catch::Contains("expected 6 fields"));
}

TEST_CASE("cmmlu loader: header, index column, Chinese text", "[mmlu][dataset]") {
  const fs::path d = test::temp_dir("mmlu_c");
  write(d / "dev" / "agronomy.csv", ",Question,A,B,C,D,Answer\n0,问题一,甲,乙,丙,丁,A\n");
  write(d / "test" / "agronomy.csv", ",Question,A,B,C,D,Answer\n0,问题二,甲,乙,丙,丁,C\n1,问题三,\"一,二\",乙,丙,丁,B\n");
  const McDataset ds = load_mc_dataset(d.string());
  CHECK(ds.layout == McLayout::Cmmlu);
  REQUIRE(ds.subjects.size() == 1);
  CHECK(ds.subjects[0].category == "Other");
  REQUIRE(ds.subjects[0].test.size() == 2);
  CHECK(ds.subjects[0].test[0].question == "问题二");
  CHECK(ds.subjects[0].test[1].choices[0] == "一,二");
  CHECK(ds.subjects[0].test[1].answer == 1);
  write(d / "test" / "agronomy.csv", "0,问题二,甲,乙,丙,丁,C\n");
  CHECK_THAT(error_of([&] { load_mc_dataset(d.string()); }), Catch::Contains("agronomy.csv:1") && Catch::Contains("header"));
}

TEST_CASE("subject categories", "[mmlu][dataset]") {
  CHECK(mmlu_category("abstract_algebra") == "STEM");
  CHECK(mmlu_category("professional_law") == "humanities");
  CHECK(mmlu_category("econometrics") == "social sciences");
  CHECK(mmlu_category("virology") == "other");
  CHECK(mmlu_category("nonexistent").empty());
  CHECK(cmmlu_category("ancient_chinese") == "China specific");
  CHECK(cmmlu_category("college_medical_statistics") == "STEM");
  CHECK(cmmlu_subject_zh("agronomy") == "农学");
  CHECK(subject_display_name("high_school_us_history") == "high school us history");
}

TEST_CASE("the bundled sample and the shared MMLU-Redux and CMMLU sets load", "[mmlu][dataset]") {
  const McDataset sample = load_mc_dataset(test::repo_root() + "/datasets/samples/mmlu");
  CHECK(sample.subjects.size() == 3);
  for (auto& s : sample.subjects) {
    CHECK(s.dev.size() == 5);
    CHECK(!mmlu_category(s.name).empty());
  }
  if (!test::require_shared("datasets/mmlu-redux/test")) return;
  const McDataset redux = load_mc_dataset(test::shared_dir() + "/datasets/mmlu-redux");
  CHECK(redux.subjects.size() == 57);
  CHECK(redux.test_questions() == 5045);
  for (auto& s : redux.subjects) CHECK(!mmlu_category(s.name).empty());
  if (!test::require_shared("datasets/cmmlu/test")) return;
  const McDataset cm = load_mc_dataset(test::shared_dir() + "/datasets/cmmlu");
  CHECK(cm.layout == McLayout::Cmmlu);
  CHECK(cm.subjects.size() == 67);
  // Python's csv module counts 11,582 test rows (the CMMLU paper and the datasets README say 11,528).
  CHECK(cm.test_questions() == 11582);
  for (auto& s : cm.subjects) CHECK(!cmmlu_category(s.name).empty());
}
