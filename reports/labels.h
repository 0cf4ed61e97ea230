#pragma once
// Column headers and fixed phrases of the human-readable outputs (Markdown,
// HTML, chart titles) in English or Chinese. CSV/JSON keys never change.
#include <string>

namespace qbench::report {

enum class Lang { en, zh };

Lang parse_lang(const std::string& s);  // "en" | "zh"; throws qbench::Error otherwise

// Text for key in lang; the key itself when unknown (never empty).
std::string label(const std::string& key, Lang lang);

}  // namespace qbench::report
