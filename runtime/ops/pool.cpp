// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool.
#include "graph/geometry.h"
#include "kernels/pool.h"
#include "runtime/registry.h"

namespace normrt {
namespace {

KernelFactory window_pool(bool max) {
  return [max](const BindContext& c) {
    const Shape& x = c.in_shape(0);
    Shape spatial(x.begin() + 2, x.end());
    if (spatial.size() > 3) c.fail("pooling over more than 3 spatial dims is not supported");
    auto g = window_geometry(c.node, spatial, c.node.attr_ints("kernel_shape"), c.node.attr_i("ceil_mode", 0) != 0,
                             c.where);
    auto p = kernels::make_pool_params(x[0], x[1], g.in, g.out, g.kernel, g.strides, g.dilations, g.pad_begin,
                                       g.pad_end);
    p.max = max;
    p.count_include_pad = c.node.attr_i("count_include_pad", 0) != 0;
    return kernel_fn([p](const RunArgs& a) {
      kernels::pool(p, static_cast<const float*>(a.in[0]), static_cast<float*>(a.out[0]));
    });
  };
}

KernelFactory global_pool(bool max) {
  return [max](const BindContext& c) {
    const Shape& x = c.in_shape(0);
    int64_t rows = x[0] * x[1], inner = shape_numel(Shape(x.begin() + 2, x.end()));
    return kernel_fn([=](const RunArgs& a) {
      kernels::global_pool(max, static_cast<const float*>(a.in[0]), static_cast<float*>(a.out[0]), rows, inner);
    });
  };
}

}  // namespace

void register_pool_ops(Registry& r) {
  r.add("MaxPool", 1, 18, window_pool(true));
  r.add("AveragePool", 1, 18, window_pool(false));
  r.add("GlobalAveragePool", 1, 18, global_pool(false));
  r.add("GlobalMaxPool", 1, 18, global_pool(true));
}

}  // namespace normrt
