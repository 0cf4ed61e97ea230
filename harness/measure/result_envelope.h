#pragma once
// The versioned envelope every qbench result file shares: provenance
// (revision, command line, time), hardware, model, and the workload's data.
// docs/result-schema.md describes it; reports/ reads only this.
#include <nlohmann/json.hpp>

#include "harness/measure/run_context.h"
#include "harness/measure/sysinfo.h"

namespace qbench {

constexpr int kResultSchemaVersion = 1;

// model: Engine::describe(); workload: the workload's to_json(); runtime: threads, pinning, device.
nlohmann::json make_result(const RunContext& ctx, const SystemInfo& sys, const nlohmann::json& model,
                           const nlohmann::json& runtime, const nlohmann::json& workload);

}  // namespace qbench
