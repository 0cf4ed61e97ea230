// Placeholder until the gguf quantizer lands (its issue replaces this file).
#include "engines/core/error.h"
#include "harness/cli/commands.h"

namespace qbench::cli {

int cmd_quantize_gguf(int, char**) { throw Error("quantize --to gguf is not available in this build yet"); }

}  // namespace qbench::cli
