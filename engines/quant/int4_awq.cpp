#include "engines/quant/int4_awq.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>

#include "engines/quant/int4_rtn.h"

namespace qbench::quant {

using MatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

double output_error(const float* w, const float* w_hat, int64_t out, int64_t in, const std::vector<double>& h) {
  MatD d(out, in);
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i) d(o, i) = double(w[o * in + i]) - double(w_hat[o * in + i]);
  Eigen::Map<const MatD> H(h.data(), in, in);
  return (d * H).cwiseProduct(d).sum();
}

namespace {

// Σ over the linears of ‖(W − Q(W·s)/s) X‖² for channel scales s.
double scaled_loss(const std::vector<AwqLinearRef>& ls, int64_t in, const std::vector<double>& h, const std::vector<float>& s,
                   int64_t group_size) {
  double loss = 0;
  for (const auto& l : ls) {
    std::vector<float> ws(size_t(l.out * in)), back(ws.size());
    for (int64_t o = 0; o < l.out; ++o)
      for (int64_t i = 0; i < in; ++i) ws[size_t(o * in + i)] = l.w[o * in + i] * s[size_t(i)];
    const Int4Codes c = rtn_quantize(ws.data(), l.out, in, group_size, Int4Style::Awq);
    dequantize_all(c, back.data());
    for (int64_t o = 0; o < l.out; ++o)
      for (int64_t i = 0; i < in; ++i) back[size_t(o * in + i)] /= s[size_t(i)];
    loss += output_error(l.w, back.data(), l.out, in, h);
  }
  return loss;
}

}  // namespace

AwqScaleResult awq_search_scales(const std::vector<AwqLinearRef>& linears, int64_t in, const std::vector<double>& h,
                                 const std::vector<float>& abs_mean, int64_t group_size, int grid) {
  AwqScaleResult best;
  best.loss = std::numeric_limits<double>::infinity();
  for (int k = 0; k < grid; ++k) {
    const double alpha = double(k) / grid;
    std::vector<float> s(static_cast<size_t>(in));
    for (int64_t i = 0; i < in; ++i) s[size_t(i)] = std::max(float(std::pow(double(abs_mean[size_t(i)]), alpha)), 1e-4f);
    const auto [mn, mx] = std::minmax_element(s.begin(), s.end());
    const float norm = std::sqrt(*mn * *mx);
    for (auto& v : s) v /= norm;
    const double loss = scaled_loss(linears, in, h, s, group_size);
    if (k == 0) best.loss_rtn = loss;
    if (loss < best.loss) best.loss = loss, best.alpha = alpha, best.scales = s;
  }
  return best;
}

}  // namespace qbench::quant
