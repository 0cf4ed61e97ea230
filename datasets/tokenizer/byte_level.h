#pragma once
// GPT-2's reversible byte <-> printable character table ("ByteLevel" in HF): every byte becomes one visible
// Unicode character, so that BPE vocabularies can be stored as text.
#include <optional>
#include <string>
#include <string_view>

namespace qbench::tok {

// UTF-8 encoding of the character that stands for byte b.
const std::string& byte_level_char(unsigned char b);
// The byte a character stands for, or -1 when the character is not in the table.
int byte_level_byte(char32_t cp);

// Maps raw bytes to their byte-level text (what tokenizer.json's vocab keys are made of).
std::string to_byte_level(std::string_view bytes);
// Inverse of to_byte_level; nullopt when `text` holds a character outside the table (or is not UTF-8).
std::optional<std::string> from_byte_level(std::string_view text);

}  // namespace qbench::tok
