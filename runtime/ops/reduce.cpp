// ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd, ReduceL1,
// ReduceL2, ReduceSumSquare, ReduceLogSum, ReduceLogSumExp over any set of
// axes (accumulated in double, in a fixed order), ArgMax, ArgMin, Hardmax,
// TopK, CumSum.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "graph/geometry.h"
#include "runtime/ops/broadcast.h"
#include "runtime/registry.h"

namespace normrt {
namespace {

enum class Reduce { mean, sum, max, min, prod, l1, l2, sum_square, log_sum, log_sum_exp };
constexpr size_t kMaxRank = 12;

KernelFactory reduce_op(Reduce kind) {
  return [kind](const BindContext& c) -> std::unique_ptr<Kernel> {
    const Shape& x = c.in_shape(0);
    const auto axes = reduce_axes(c.node, c.in, c.opset, c.where);
    std::vector<bool> reduced(x.size(), false);
    for (int64_t a : axes) reduced[size_t(a)] = true;
    if (x.size() > kMaxRank) c.fail("reductions of rank above 12 are not supported");
    Shape strides(x.size());
    int64_t s = 1;
    for (size_t i = x.size(); i-- > 0;) strides[i] = s, s *= x[i];
    // The reduced dims and the kept dims, each with its stride (outermost
    // first): the kept ones find each output's base, the reduced ones are
    // walked from it in row-major order, with no table of offsets (a table
    // would be as large as one reduction: gigabytes for a long row).
    std::vector<int64_t> red_dims, red_strides, kept_dims, kept_strides;
    int64_t count = 1;
    for (size_t i = 0; i < x.size(); ++i) {
      (reduced[i] ? red_dims : kept_dims).push_back(x[i]);
      (reduced[i] ? red_strides : kept_strides).push_back(strides[i]);
      if (reduced[i]) count *= x[i];
    }
    if (red_dims.empty()) red_dims = red_strides = {1};  // noop_with_empty_axes: each output reads its one element
    const int64_t outputs = shape_numel(c.out[0].shape);
    // f(value) for each element of the reduction at p, in order, while f returns true.
    auto walk = [red_dims, red_strides, count](const float* p, auto&& f) {
      if (count == 0) return;
      const int rd = int(red_dims.size());
      const int64_t inner = red_dims.back(), step = red_strides.back();
      std::array<int64_t, kMaxRank> idx{};
      for (int64_t base = 0;;) {
        for (int64_t k = 0; k < inner; ++k)
          if (!f(p[base + k * step])) return;
        int d = rd - 2;
        for (; d >= 0; --d) {  // the odometer over the outer reduced dims
          base += red_strides[size_t(d)];
          if (++idx[size_t(d)] < red_dims[size_t(d)]) break;
          base -= red_strides[size_t(d)] * red_dims[size_t(d)];
          idx[size_t(d)] = 0;
        }
        if (d < 0) return;
      }
    };
    return kernel_fn([=](const RunArgs& a) {
      auto* in = static_cast<const float*>(a.in[0]);
      auto* out = static_cast<float*>(a.out[0]);
#pragma omp parallel for schedule(static) if (outputs * count > 32768)
      for (int64_t o = 0; o < outputs; ++o) {
        int64_t base = 0, rest = o;
        for (size_t i = kept_dims.size(); i-- > 0;) {
          base += (rest % kept_dims[i]) * kept_strides[i];
          rest /= kept_dims[i];
        }
        const float* p = in + base;
        if (kind == Reduce::mean || kind == Reduce::sum || kind == Reduce::log_sum) {
          double acc = 0;
          walk(p, [&](float v) { return acc += v, true; });
          out[o] = float(kind == Reduce::mean ? acc / double(count) : kind == Reduce::log_sum ? std::log(acc) : acc);
        } else if (kind == Reduce::l1 || kind == Reduce::l2 || kind == Reduce::sum_square) {
          double acc = 0;
          walk(p, [&](float v) { return acc += kind == Reduce::l1 ? std::fabs(double(v)) : double(v) * v, true; });
          out[o] = float(kind == Reduce::l2 ? std::sqrt(acc) : acc);
        } else if (kind == Reduce::prod) {
          double acc = 1;
          walk(p, [&](float v) { return acc *= v, true; });
          out[o] = float(acc);
        } else if (kind == Reduce::log_sum_exp) {
          // max + log(sum(exp(x - max))): no overflow; an infinite or NaN max is the answer.
          double mx = -std::numeric_limits<double>::infinity(), acc = 0;
          walk(p, [&](float v) { return mx = std::isnan(v) || v > mx ? double(v) : mx, !std::isnan(mx); });
          if (std::isfinite(mx)) walk(p, [&](float v) { return acc += std::exp(double(v) - mx), true; });
          out[o] = float(std::isfinite(mx) ? mx + std::log(acc) : mx);
        } else {
          float acc = kind == Reduce::max ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity();
          walk(p, [&](float v) {
            if (std::isnan(v) || (kind == Reduce::max ? v > acc : v < acc)) acc = v;
            return !std::isnan(acc);
          });
          out[o] = acc;
        }
      }
    });
  };
}

// Index of the first extreme of p[0], p[inner], ... p[(n - 1) * inner] (the
// last with `last`); NaN counts as the extreme, as in numpy and PyTorch (the
// last NaN with `last`, as ONNX's reference).
int64_t extreme_index(const float* p, int64_t n, int64_t inner, bool max, bool last) {
  int64_t best = 0;
  for (int64_t k = 1; k < n; ++k) {
    const float v = p[k * inner], b = p[best * inner];
    if (std::isnan(b)) {
      if (!last) break;
      if (std::isnan(v)) best = k;
    } else if (std::isnan(v) || (max ? v > b : v < b) || (last && v == b)) {
      best = k;
    }
  }
  return best;
}

// ArgMax / ArgMin along one axis (select_last_index: the last extreme).
KernelFactory arg_op(bool max) {
  return [max](const BindContext& c) -> std::unique_ptr<Kernel> {
    const Shape& x = c.in_shape(0);
    const int64_t axis = normalize_axis(c.node.attr_i("axis", 0), int64_t(x.size()), c.where);
    const bool last = c.node.attr_i("select_last_index", 0) != 0;
    const AxisSplit s = split_at(x, axis);
    const int64_t outer = s.outer, n = s.n, inner = s.inner;
    return kernel_fn([=](const RunArgs& a) {
      auto* in = static_cast<const float*>(a.in[0]);
      auto* out = static_cast<int64_t*>(a.out[0]);
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < inner; ++j) out[o * inner + j] = extreme_index(in + o * n * inner + j, n, inner, max, last);
    });
  };
}

// Hardmax: 1 at the first maximum along the axis (opset 13; earlier opsets
// flatten from the axis on), 0 elsewhere.
std::unique_ptr<Kernel> hardmax(const BindContext& c) {
  const Shape& x = c.in_shape(0);
  const int64_t axis = normalize_axis(c.node.attr_i("axis", c.opset >= 13 ? -1 : 1), int64_t(x.size()), c.where);
  AxisSplit s = split_at(x, axis);
  if (c.opset < 13) s = {s.outer, s.n * s.inner, 1};  // before opset 13, the dims from the axis on are one
  const int64_t outer = s.outer, n = s.n, inner = s.inner;
  return kernel_fn([=](const RunArgs& a) {
    auto* in = static_cast<const float*>(a.in[0]);
    auto* out = static_cast<float*>(a.out[0]);
    std::fill(out, out + outer * n * inner, 0.f);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < inner; ++j)
        if (n) out[(o * n + extreme_index(in + o * n * inner + j, n, inner, true, false)) * inner + j] = 1.f;
  });
}

// TopK: the k largest (or smallest) along the axis, sorted, ties to the
// lower index, NaN above every number (as PyTorch's topk); values and int64
// indices. k is known when the plan is made (it decides the output shape).
std::unique_ptr<Kernel> top_k(const BindContext& c) {
  const Shape& x = c.in_shape(0);
  const int64_t axis = normalize_axis(c.node.attr_i("axis", -1), int64_t(x.size()), c.where);
  const bool largest = c.node.attr_i("largest", 1) != 0;
  const int64_t k = c.out[0].shape[size_t(axis)];
  const AxisSplit s = split_at(x, axis);
  const int64_t outer = s.outer, n = s.n, inner = s.inner;
  return kernel_fn([=](const RunArgs& a) {
    auto* in = static_cast<const float*>(a.in[0]);
    auto* values = static_cast<float*>(a.out[0]);
    auto* indices = static_cast<int64_t*>(a.out[1]);
    int64_t* order = static_cast<int64_t*>(a.scratch);  // n indices, sorted per slice
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < inner; ++j) {
        const float* p = in + o * n * inner + j;
        // Whether element u comes before element v.
        auto before = [&](int64_t u, int64_t v) {
          const float fu = p[u * inner], fv = p[v * inner];
          const bool nu = std::isnan(fu), nv = std::isnan(fv);
          if (nu || nv) return nu && nv ? u < v : largest ? nu : nv;
          if (fu != fv) return largest ? fu > fv : fu < fv;
          return u < v;
        };
        for (int64_t i = 0; i < n; ++i) order[i] = i;
        std::partial_sort(order, order + k, order + n, before);
        for (int64_t r = 0; r < k; ++r) {
          values[(o * k + r) * inner + j] = p[order[r] * inner];
          indices[(o * k + r) * inner + j] = order[r];
        }
      }
  }, size_t(n) * sizeof(int64_t));
}

// CumSum along an axis given at run time: running sums (in double for
// float), from the end with reverse, each element left out of its own with
// exclusive.
std::unique_ptr<Kernel> cumsum(const BindContext& c) {
  const Shape x = c.in_shape(0);
  const bool exclusive = c.node.attr_i("exclusive", 0) != 0, reverse = c.node.attr_i("reverse", 0) != 0;
  const DType t = c.out[0].dtype, at = c.in[1]->dtype;
  const std::string where = c.where;
  return kernel_fn([=](const RunArgs& a) {
    const int64_t raw = at == DType::int32 ? *static_cast<const int32_t*>(a.in[1]) : *static_cast<const int64_t*>(a.in[1]);
    const AxisSplit s = split_at(x, normalize_axis(raw, int64_t(x.size()), where));
    const int64_t outer = s.outer, n = s.n, inner = s.inner;
    auto scan = [&](auto tag, auto acc_tag) {
      using T = decltype(tag);
      using Acc = decltype(acc_tag);
      auto* in = static_cast<const T*>(a.in[0]);
      auto* out = static_cast<T*>(a.out[0]);
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < inner; ++j) {
          Acc acc = 0;
          for (int64_t s = 0; s < n; ++s) {
            const int64_t k = reverse ? n - 1 - s : s, at_k = (o * n + k) * inner + j;
            if (exclusive) out[at_k] = T(acc), acc += Acc(in[at_k]);
            else acc += Acc(in[at_k]), out[at_k] = T(acc);
          }
        }
    };
    if (t == DType::float32) scan(float{}, double{});
    else if (t == DType::int64) scan(int64_t{}, uint64_t{});  // integer sums wrap (unsigned: no overflow UB)
    else scan(int32_t{}, uint32_t{});
  });
}

}  // namespace

void register_reduce_ops(Registry& r) {
  r.add("ReduceMean", 1, 18, reduce_op(Reduce::mean));
  r.add("ReduceSum", 1, 18, reduce_op(Reduce::sum));
  r.add("ReduceMax", 1, 18, reduce_op(Reduce::max));
  r.add("ReduceMin", 1, 18, reduce_op(Reduce::min));
  r.add("ReduceProd", 1, 18, reduce_op(Reduce::prod));
  r.add("ReduceL1", 1, 18, reduce_op(Reduce::l1));
  r.add("ReduceL2", 1, 18, reduce_op(Reduce::l2));
  r.add("ReduceSumSquare", 1, 18, reduce_op(Reduce::sum_square));
  r.add("ReduceLogSum", 1, 18, reduce_op(Reduce::log_sum));
  r.add("ReduceLogSumExp", 1, 18, reduce_op(Reduce::log_sum_exp));
  r.add("ArgMax", 1, 18, arg_op(true));
  r.add("ArgMin", 1, 18, arg_op(false));
  r.add("CumSum", 11, 18, cumsum);
  r.add("Hardmax", 1, 18, hardmax);
  r.add("TopK", 10, 18, top_k);
}

}  // namespace normrt
