#pragma once
// Terminal summary of a throughput result: one line per concurrency/rate point.
#include <string>

#include <nlohmann/json.hpp>

namespace qbench {

std::string format_throughput_summary(const nlohmann::json& result);

}  // namespace qbench
