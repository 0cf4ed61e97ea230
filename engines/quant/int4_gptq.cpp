#include "engines/quant/int4_gptq.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <numeric>
#include <string>

#include "engines/core/error.h"

namespace qbench::quant {

using MatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

Int4Codes gptq_quantize(const float* w_in, int64_t out, int64_t in, const std::vector<double>& h_in, const GptqOptions& opt) {
  if (int64_t(h_in.size()) != in * in) throw Error("gptq: Hessian has the wrong size");
  const Int4Style style = opt.sym ? Int4Style::GptqSym : Int4Style::GptqAsym;
  MatD W(out, in), H = Eigen::Map<const MatD>(h_in.data(), in, in);
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i) W(o, i) = w_in[o * in + i];
  // Inputs that never fire carry no information: fix them at zero.
  for (int64_t i = 0; i < in; ++i)
    if (H(i, i) == 0) H(i, i) = 1, W.col(i).setZero();

  std::vector<int64_t> perm(static_cast<size_t>(in));
  std::iota(perm.begin(), perm.end(), 0);
  if (opt.act_order) {
    std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) { return H(a, a) > H(b, b); });
    MatD W2(out, in), H2(in, in);
    for (int64_t j = 0; j < in; ++j) W2.col(j) = W.col(perm[size_t(j)]);
    for (int64_t a = 0; a < in; ++a)
      for (int64_t b = 0; b < in; ++b) H2(a, b) = H(perm[size_t(a)], perm[size_t(b)]);
    W.swap(W2);
    H.swap(H2);
  }
  H.diagonal().array() += opt.damp * H.diagonal().mean();
  // Upper Cholesky factor of H⁻¹ (AutoGPTQ: cholesky -> cholesky_inverse -> cholesky(upper)).
  Eigen::LLT<MatD> llt(H);
  if (llt.info() != Eigen::Success) throw Error("gptq: Hessian is not positive definite after dampening; use more calibration text");
  const MatD Hinv_full = llt.solve(MatD::Identity(in, in));
  Eigen::LLT<MatD> llt2(Hinv_full);
  if (llt2.info() != Eigen::Success) throw Error("gptq: inverse Hessian is not positive definite; use more calibration text");
  const MatD Hinv = llt2.matrixU();

  Int4Codes c;
  c.resize(in, out, opt.group_size);
  const int64_t gs = c.group_size;
  std::vector<GroupParams> params(static_cast<size_t>(out));
  std::vector<float> tmp(static_cast<size_t>(gs));
  for (int64_t i1 = 0; i1 < in; i1 += opt.block_size) {
    const int64_t i2 = std::min(i1 + opt.block_size, in), count = i2 - i1;
    MatD Err(out, count);
    for (int64_t k = 0; k < count; ++k) {
      const int64_t j = i1 + k;  // column in the (permuted) processing order
      if (j % gs == 0) {  // new group: parameters from the current, error-updated weights
        const int64_t n = std::min(gs, in - j);
        for (int64_t o = 0; o < out; ++o) {
          for (int64_t t = 0; t < n; ++t) tmp[size_t(t)] = float(W(o, j + t));
          params[size_t(o)] = group_params(tmp.data(), n, style);
          c.scale[size_t((j / gs) * out + o)] = params[size_t(o)].scale;
          c.zero[size_t((j / gs) * out + o)] = uint8_t(params[size_t(o)].zero);
        }
      }
      const double d = Hinv(j, j);
      for (int64_t o = 0; o < out; ++o) {
        const int q = quantize_code(float(W(o, j)), params[size_t(o)]);
        c.q[size_t(o * in + perm[size_t(j)])] = uint8_t(q);
        const double e = (W(o, j) - double(dequantize_code(q, params[size_t(o)]))) / d;
        Err(o, k) = e;
      }
      // Error feedback inside the block.
      W.block(0, j + 1, out, i2 - j - 1).noalias() -= Err.col(k) * Hinv.block(j, j + 1, 1, i2 - j - 1);
    }
    // Lazy batch update of everything after the block.
    if (i2 < in) W.block(0, i2, out, in - i2).noalias() -= Err * Hinv.block(i1, i2, count, in - i2);
  }
  if (opt.act_order) {
    c.g_idx.assign(size_t(in), 0);
    for (int64_t j = 0; j < in; ++j) c.g_idx[size_t(perm[size_t(j)])] = int32_t(j / gs);
  }
  return c;
}

}  // namespace qbench::quant
