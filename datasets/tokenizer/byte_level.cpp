#include "datasets/tokenizer/byte_level.h"

#include <array>

#include "datasets/tokenizer/utf8.h"

namespace qbench::tok {
namespace {

struct Table {
  std::array<std::string, 256> utf8;  // byte -> its character, UTF-8 encoded
  std::array<int, 512> byte_of;       // code point (all are < 512) -> byte, -1 if none

  Table() {
    byte_of.fill(-1);
    // Printable Latin-1 bytes stand for themselves; the other 68 bytes (controls, space, DEL, NBSP,
    // soft hyphen) are shifted to U+0100 onward in byte order.
    auto keeps_itself = [](int b) {
      return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      char32_t cp = keeps_itself(b) ? static_cast<char32_t>(b) : static_cast<char32_t>(next++);
      append_utf8(utf8[b], cp);
      byte_of[cp] = b;
    }
  }
};

const Table& table() {
  static const Table t;
  return t;
}

}  // namespace

const std::string& byte_level_char(unsigned char b) { return table().utf8[b]; }

int byte_level_byte(char32_t cp) { return cp < 512 ? table().byte_of[cp] : -1; }

std::string to_byte_level(std::string_view bytes) {
  const Table& t = table();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += t.utf8[static_cast<unsigned char>(c)];
  return out;
}

std::optional<std::string> from_byte_level(std::string_view text) {
  if (find_invalid_utf8(text) != std::string_view::npos) return std::nullopt;
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    int b = byte_level_byte(next_codepoint(text, i));
    if (b < 0) return std::nullopt;
    out.push_back(static_cast<char>(b));
  }
  return out;
}

}  // namespace qbench::tok
