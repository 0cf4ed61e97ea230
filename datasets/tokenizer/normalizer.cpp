#include "datasets/tokenizer/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>
#include <stdexcept>

#include "datasets/tokenizer/utf8.h"

namespace qbench::tok {
namespace {

utf8proc_option_t options_for(NormalForm f) {
  switch (f) {
    case NormalForm::NFC: return static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    case NormalForm::NFD: return static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
    case NormalForm::NFKC:
      return static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
    case NormalForm::NFKD:
      return static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
  }
  return UTF8PROC_STABLE;
}

std::string map_once(std::string_view in, NormalForm f) {
  utf8proc_uint8_t* out = nullptr;
  // Explicit length (no NULLTERM): embedded NUL bytes are ordinary characters here.
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(in.data()),
                                    static_cast<utf8proc_ssize_t>(in.size()), &out, options_for(f));
  if (n < 0) throw std::invalid_argument(std::string("tokenizer: normalization failed: ") + utf8proc_errmsg(n));
  std::string result(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  std::free(out);
  return result;
}

}  // namespace

std::string_view Normalizer::apply(std::string_view in, std::string& storage) const {
  if (steps.empty() || is_ascii(in)) return in;  // every normal form leaves ASCII unchanged
  storage.assign(in);
  for (NormalForm f : steps) storage = map_once(storage, f);
  return storage;
}

}  // namespace qbench::tok
