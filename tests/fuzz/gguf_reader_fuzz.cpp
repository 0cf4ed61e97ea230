// libFuzzer target for the GGUF reader: any byte string must either parse or
// give a qbench::Error, never crash, hang or read outside the buffer (run
// under ASan/UBSan). On success it also
// dequantises the first row of every tensor, which touches the tensor data.
#include <cstdint>
#include <vector>

#include "engines/core/error.h"
#include "engines/formats/gguf_reader.h"
#include "engines/quant/dequant_ref.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    qbench::GgufFile f(data, size, "fuzz.gguf");
    std::vector<float> row;
    for (const auto& t : f.tensors()) {
      if (t.dims[0] > (1 << 20)) continue;
      row.resize(size_t(t.dims[0]));
      qbench::quant::dequantize_row(t.type, t.data, row.data(), t.dims[0]);
    }
  } catch (const qbench::Error&) {
  }
  return 0;
}
