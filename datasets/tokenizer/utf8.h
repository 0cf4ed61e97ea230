#pragma once
// Small UTF-8 helpers for the tokenizer. Inputs to the decoding helpers must already be valid UTF-8.
#include <cstddef>
#include <string>
#include <string_view>

namespace qbench::tok {

// Offset of the first byte that starts an invalid sequence (overlong, surrogate, > U+10FFFF, truncated),
// or std::string_view::npos when `s` is valid UTF-8.
size_t find_invalid_utf8(std::string_view s);

// Decodes the code point starting at s[i] and advances i past it.
char32_t next_codepoint(std::string_view s, size_t& i);
// Decodes the code point that ends just before s[end] and moves end to its first byte.
char32_t prev_codepoint(std::string_view s, size_t& end);

void append_utf8(std::string& out, char32_t cp);

bool is_ascii(std::string_view s);
// Unicode White_Space, as Rust's char::is_whitespace (used by HF for lstrip/rstrip of added tokens).
bool is_unicode_whitespace(char32_t cp);
// Regex \w in Unicode mode (letters, marks, decimal digits, connector punctuation such as '_'):
// HF's word-boundary test for single_word added tokens.
bool is_word_char(char32_t cp);

}  // namespace qbench::tok
