#pragma once
// Subject -> category maps the field reports MMLU and CMMLU by.
// MMLU: the four groups of Hendrycks et al.'s categories.py (STEM, humanities,
// social sciences, other). CMMLU: the five groups of the CMMLU paper (STEM,
// Humanities, Social Science, Other, China specific) and the Chinese subject
// names its prompt template uses.
#include <string>

namespace qbench {

// "" when the subject is not one of MMLU's 57.
std::string mmlu_category(const std::string& subject);
// "" when the subject is not one of CMMLU's 67.
std::string cmmlu_category(const std::string& subject);
// Chinese name for CMMLU's prompt ("农学" for agronomy); the subject with '_' -> ' ' when unknown.
std::string cmmlu_subject_zh(const std::string& subject);
// "abstract_algebra" -> "abstract algebra" (as the MMLU prompt names the subject).
std::string subject_display_name(const std::string& subject);

}  // namespace qbench
