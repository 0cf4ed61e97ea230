// The paged KV block pool: allocation, freeing, reuse, fragmentation, and
// running out of blocks as back-pressure (false / -1), never a crash.
#include <catch2/catch.hpp>

#include <set>

#include "engines/core/error.h"
#include "engines/model/kv_cache.h"

using namespace qbench;

TEST_CASE("KV block pool allocates, frees and reuses blocks", "[kv]") {
  MemoryAccount acc;
  auto pool = std::make_shared<KvBlockPool>(2, 2, 4, KvType::F32, 16, 5, &acc);
  CHECK(pool->total_blocks() == 5);
  CHECK(pool->free_blocks() == 5);
  CHECK(acc.current().kv_cache == 2ull * 2 * 5 * 16 * 2 * 4 * 4);
  std::set<int32_t> got;
  for (int i = 0; i < 5; ++i) got.insert(pool->alloc_block());
  CHECK(got == std::set<int32_t>{0, 1, 2, 3, 4});
  CHECK(pool->alloc_block() == -1);  // exhausted: back-pressure
  pool->free_block(3);
  CHECK(pool->alloc_block() == 3);   // reuse
  CHECK_THROWS_AS(pool->free_block(9), Error);
}

TEST_CASE("sequences in a shared pool reserve all-or-nothing and give blocks back", "[kv]") {
  auto pool = std::make_shared<KvBlockPool>(1, 1, 4, KvType::F16, 4, 6, nullptr);
  KvCache a(pool), b(pool);
  CHECK(a.reserve(9));   // 3 blocks
  CHECK(a.max_tokens() == 12);
  CHECK(pool->free_blocks() == 3);
  CHECK(a.reserve(12));  // already fits: no new block
  CHECK(pool->free_blocks() == 3);
  CHECK_FALSE(b.reserve(13));  // needs 4 > 3 free: refused, nothing taken
  CHECK(pool->free_blocks() == 3);
  CHECK(b.max_tokens() == 0);
  CHECK(b.reserve(12));
  CHECK(pool->free_blocks() == 0);
  a.release();
  CHECK(pool->free_blocks() == 3);
  {
    KvCache c(pool);
    CHECK(c.reserve(5));
    CHECK(pool->free_blocks() == 1);
  }  // destructor returns c's blocks
  CHECK(pool->free_blocks() == 3);
}

TEST_CASE("fragmented pools still serve: a sequence's blocks need not be contiguous", "[kv]") {
  auto pool = std::make_shared<KvBlockPool>(1, 1, 2, KvType::F32, 2, 6, nullptr);
  KvCache a(pool), b(pool), c(pool);
  REQUIRE(a.reserve(4));  // blocks 0,1
  REQUIRE(b.reserve(4));  // blocks 2,3
  REQUIRE(c.reserve(4));  // blocks 4,5
  b.release();            // hole in the middle
  a.release();
  KvCache d(pool);
  REQUIRE(d.reserve(8));  // takes the four freed blocks, wherever they are
  std::set<int32_t> blocks(d.blocks().begin(), d.blocks().end());
  CHECK(blocks == std::set<int32_t>{0, 1, 2, 3});
  // Rows of consecutive positions land in their own block slots and do not alias.
  for (int64_t p = 0; p < 8; ++p) reinterpret_cast<float*>(d.row(0, 0, p))[0] = float(p);
  for (int64_t p = 0; p < 8; ++p) CHECK(reinterpret_cast<float*>(d.row(0, 0, p))[0] == float(p));
}
