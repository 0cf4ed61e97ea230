#pragma once
// Terminal summary of a latency result (reads the result JSON only).
#include <string>

#include <nlohmann/json.hpp>

namespace qbench {

std::string format_latency_summary(const nlohmann::json& result);

}  // namespace qbench
