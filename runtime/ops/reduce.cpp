// ReduceMean, ReduceSum, ReduceMax, ReduceMin over any set of axes
// (accumulated in double, in a fixed order).
#include <cmath>
#include <limits>

#include "runtime/registry.h"

namespace normrt {
namespace {

enum class Reduce { mean, sum, max, min };

KernelFactory reduce_op(Reduce kind) {
  return [kind](const BindContext& c) -> std::unique_ptr<Kernel> {
    const Shape& x = c.in_shape(0);
    const auto axes = reduce_axes(c.node, c.in, c.opset, c.where);
    std::vector<bool> reduced(x.size(), false);
    for (int64_t a : axes) reduced[size_t(a)] = true;
    Shape strides(x.size());
    int64_t s = 1;
    for (size_t i = x.size(); i-- > 0;) strides[i] = s, s *= x[i];
    // Offsets of every element of one reduction (relative to its base), and the
    // kept dims with their strides, to find each output's base.
    std::vector<int64_t> offsets{0}, kept_dims, kept_strides;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!reduced[i]) {
        kept_dims.push_back(x[i]);
        kept_strides.push_back(strides[i]);
        continue;
      }
      std::vector<int64_t> next;
      for (int64_t o : offsets)
        for (int64_t k = 0; k < x[i]; ++k) next.push_back(o + k * strides[i]);
      offsets = std::move(next);
    }
    const int64_t outputs = shape_numel(c.out[0].shape), count = int64_t(offsets.size());
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
        if (kind == Reduce::mean || kind == Reduce::sum) {
          double acc = 0;
          for (int64_t k = 0; k < count; ++k) acc += p[offsets[size_t(k)]];
          out[o] = float(kind == Reduce::mean ? acc / double(count) : acc);
        } else {
          float acc = kind == Reduce::max ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity();
          for (int64_t k = 0; k < count; ++k) {
            float v = p[offsets[size_t(k)]];
            if (std::isnan(v) || (kind == Reduce::max ? v > acc : v < acc)) acc = v;
            if (std::isnan(acc)) break;
          }
          out[o] = acc;
        }
      }
    });
  };
}

}  // namespace

void register_reduce_ops(Registry& r) {
  r.add("ReduceMean", 1, 18, reduce_op(Reduce::mean));
  r.add("ReduceSum", 1, 18, reduce_op(Reduce::sum));
  r.add("ReduceMax", 1, 18, reduce_op(Reduce::max));
  r.add("ReduceMin", 1, 18, reduce_op(Reduce::min));
}

}  // namespace normrt
