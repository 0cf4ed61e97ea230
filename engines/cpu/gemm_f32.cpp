#include "engines/cpu/gemm_f32.h"

#include <Eigen/Core>

namespace qbench::cpu {

void gemm_xbt(const float* x, int64_t n, int64_t k, const float* b, int64_t m, float* y, int64_t ldy) {
  using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const RowMat> X(x, n, k);
  Eigen::Map<const RowMat> B(b, m, k);
  Eigen::Map<RowMat, 0, Eigen::OuterStride<>> Y(y, n, m, Eigen::OuterStride<>(ldy));
  Y.noalias() = X * B.transpose();
}

}  // namespace qbench::cpu
