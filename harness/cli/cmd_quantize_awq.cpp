// Placeholder until the awq quantizer lands (its issue replaces this file).
#include "engines/core/error.h"
#include "harness/cli/commands.h"

namespace qbench::cli {

int cmd_quantize_awq(int, char**) { throw Error("quantize --to awq is not available in this build yet"); }

}  // namespace qbench::cli
