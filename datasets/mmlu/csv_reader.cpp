#include "datasets/mmlu/csv_reader.h"

#include <fstream>
#include <sstream>

#include "datasets/tokenizer/utf8.h"
#include "engines/core/error.h"

namespace qbench {

namespace {

int64_t line_of(std::string_view text, size_t offset) {
  int64_t line = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) line += text[i] == '\n';
  return line;
}

}  // namespace

std::vector<CsvRow> parse_csv(std::string_view text, const std::string& where) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  if (const size_t bad = tok::find_invalid_utf8(text); bad != std::string_view::npos)
    throw Error(where + ":" + std::to_string(line_of(text, bad)) + ": invalid UTF-8 at byte " + std::to_string(bad));

  std::vector<CsvRow> rows;
  CsvRow row;
  std::string field;
  int64_t line = 1;
  bool in_quotes = false, field_was_quoted = false, row_started = false;
  auto end_field = [&] {
    row.fields.push_back(std::move(field));
    field.clear();
    field_was_quoted = false;
  };
  auto end_row = [&] {
    end_field();
    // A line holding nothing at all is skipped (as pandas does with blank lines).
    if (!(row.fields.size() == 1 && row.fields[0].empty())) rows.push_back(std::move(row));
    row = CsvRow{};
    row_started = false;
  };
  int64_t quote_line = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!row_started) {
      row.line = line;
      row_started = true;
    }
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"') {
      if (!field.empty() || field_was_quoted)
        throw Error(where + ":" + std::to_string(line) + ": quote inside an unquoted field (field " +
                    std::to_string(row.fields.size() + 1) + ")");
      in_quotes = field_was_quoted = true;
      quote_line = line;
    } else if (c == ',') {
      end_field();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      // CRLF: the '\n' ends the row.
    } else if (c == '\n') {
      end_row();
      ++line;
    } else {
      if (field_was_quoted)
        throw Error(where + ":" + std::to_string(line) + ": text after a closing quote (field " +
                    std::to_string(row.fields.size() + 1) + ")");
      field += c;
    }
  }
  if (in_quotes) throw Error(where + ":" + std::to_string(quote_line) + ": quoted field is never closed");
  if (row_started) end_row();
  return rows;
}

std::vector<CsvRow> read_csv_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open");
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw Error(path + ": read error");
  return parse_csv(ss.str(), path);
}

}  // namespace qbench
