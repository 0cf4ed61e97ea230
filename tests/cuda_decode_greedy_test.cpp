// Pipelined greedy decode on CUDA (Transformer::decode_greedy, engines/model/decode_greedy.cpp): the next step
// is queued before this step's token is read, its embedding lookup taking the argmax on the device. Checked on
// the tiny-qwen2 fixtures of three weight formats (each has its own embedding lookup): the tokens of
// forward_batch_greedy one step at a time, a stop leaving the sequence at the tokens fed, and graphs replayed
// (the steady step is one queue shape per staging half); with graphs off as well.
#ifdef QBENCH_HAVE_CUDA
#include <catch2/catch.hpp>

#include "engines/cuda/launch_queue.h"
#include "tests/support/cuda_test_support.h"
#include "tests/support/decode_greedy_check.h"
#include "tests/support/test_paths.h"

using namespace qbench;
using namespace qbench::test;

TEST_CASE("pipelined greedy decode on cuda equals one step at a time (fp16, gptq, gguf q8_0)", "[cuda][reference]") {
  const std::vector<int32_t> prompt = {11, 400, 7, 8191, 23, 5, 99, 1000, 2, 3, 4, 5};
  for (const char* rel : {"hf-fp16", "gptq", "gguf/tiny-qwen2-q8_0.gguf"}) {
    if (!require_cuda() || !require_shared(std::string("fixtures/tiny-qwen2/") + rel)) return;
    INFO("fixture " << rel);
    auto e = load_tiny_fixture(rel, "cuda");
    REQUIRE(e->model().decode_pipelined());
    for (bool graphs : {true, false}) {
      INFO("graphs " << graphs);
      cuda::set_graphs_enabled(graphs);
      const auto before = cuda::graph_stats();
      check_decode_greedy(e->model(), prompt, 24, KvType::F16);
      const auto after = cuda::graph_stats();
      if (graphs) CHECK(after.graph_launches - before.graph_launches >= 24);
    }
    cuda::set_graphs_enabled(true);
  }
}
#endif
