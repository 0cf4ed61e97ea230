#include "engines/core/tensor_source.h"

#include "engines/core/error.h"

namespace qbench {

const TensorRef& TensorSource::require(const std::string& name) const {
  const TensorRef* t = find(name);
  if (!t) throw Error("missing tensor '" + name + "' in the checkpoint");
  return *t;
}

}  // namespace qbench
