#pragma once
// A CPU engine over a synthetic checkpoint of a catalog shape (engines/formats/synthetic_checkpoint.h), written
// under the tests' temporary folder: for tests that need a whole model but no reference fixture.
#include <memory>
#include <string>

#include "engines/formats/synthetic_checkpoint.h"
#include "engines/model/shape_catalog.h"
#include "engines/registry/registry.h"
#include "tests/support/test_paths.h"

namespace qbench::test {

// weight_std 0.5 spreads the logits, so that greedy picks are not decided by rounding.
inline std::unique_ptr<Engine> synthetic_engine(const std::string& shape, const std::string& dir, uint64_t seed,
                                                float weight_std) {
  SyntheticOptions o;
  o.out_dir = temp_dir(dir);
  o.seed = seed;
  o.weight_std = weight_std;
  write_synthetic_checkpoint(shape_config(shape), o);
  LoadOptions lo;
  lo.path = o.out_dir;
  return load_engine(lo);
}

}  // namespace qbench::test
