#pragma once
// Results are never half-written: a reader (or a crash) sees either the old
// file or the complete new one, because the new contents are written to a
// temporary file in the same directory, fsync'ed, then renamed over the target.
#include <string>

#include <nlohmann/json.hpp>

namespace qbench {

// Creates missing parent directories. Throws qbench::Error naming the path.
void write_file_atomic(const std::string& path, const std::string& contents);

// Pretty-printed (indent 2) with a trailing newline; invalid UTF-8 in strings
// is written as U+FFFD.
void write_json_atomic(const std::string& path, const nlohmann::json& j);

}  // namespace qbench
