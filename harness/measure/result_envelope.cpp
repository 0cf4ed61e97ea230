#include "harness/measure/result_envelope.h"

namespace qbench {

nlohmann::json make_result(const RunContext& ctx, const SystemInfo& sys, const nlohmann::json& model,
                           const nlohmann::json& runtime, const nlohmann::json& workload) {
  return {{"schema", "qbench.result"},
          {"schema_version", kResultSchemaVersion},
          {"context", ctx.to_json()},
          {"system", sys.to_json()},
          {"model", model},
          {"runtime", runtime},
          {"workload", workload}};
}

}  // namespace qbench
