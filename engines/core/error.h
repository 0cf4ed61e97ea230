#pragma once
// One exception type for every user-facing failure: the message names the file
// (or tensor) and the problem, and the CLI prints it and exits non-zero.
#include <stdexcept>
#include <string>

namespace qbench {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Out of memory while allocating model state: carries the numbers.
class OutOfMemory : public Error {
 public:
  OutOfMemory(const std::string& what, size_t needed, size_t available)
      : Error(what), needed_bytes(needed), available_bytes(available) {}
  size_t needed_bytes;
  size_t available_bytes;
};

}  // namespace qbench
