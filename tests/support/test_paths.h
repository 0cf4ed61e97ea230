#pragma once
// Where test data lives. ../shared (reference fixtures written by the real
// tools) is read in place, never copied. Tests that need it skip with a reason
// on a user's machine without it, and fail under CI=true.
#include <string>

namespace qbench::test {

std::string repo_root();
std::string shared_dir();  // absolute path of ../shared, "" if absent
// True when `relative_path` exists under ../shared. Otherwise: FAIL under CI=true,
// else print why the test is skipped and return false.
bool require_shared(const std::string& relative_path);
// A fresh empty temporary directory, removed at process exit.
std::string temp_dir(const std::string& tag);

}  // namespace qbench::test
