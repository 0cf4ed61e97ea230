#pragma once
// RFC 4180 CSV as pandas.read_csv and Python's csv module accept it: comma
// separated, fields optionally in double quotes ("" is a literal quote inside),
// quoted fields may hold commas and newlines, CRLF or LF line ends, optional
// UTF-8 BOM. Text must be valid UTF-8. Errors are qbench::Error naming file and line.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qbench {

struct CsvRow {
  int64_t line = 0;  // 1-based line where the row starts (rows may span lines)
  std::vector<std::string> fields;
};

// `where` names the source in error messages (usually the file path).
std::vector<CsvRow> parse_csv(std::string_view text, const std::string& where);
std::vector<CsvRow> read_csv_file(const std::string& path);

}  // namespace qbench
