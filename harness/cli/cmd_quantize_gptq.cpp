// Placeholder until the gptq quantizer lands (its issue replaces this file).
#include "engines/core/error.h"
#include "harness/cli/commands.h"

namespace qbench::cli {

int cmd_quantize_gptq(int, char**) { throw Error("quantize --to gptq is not available in this build yet"); }

}  // namespace qbench::cli
