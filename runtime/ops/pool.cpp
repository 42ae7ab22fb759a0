// MaxPool, AveragePool (oneDNN pooling; our loop for what it cannot do), GlobalAveragePool, GlobalMaxPool.
#include "graph/geometry.h"
#include "kernels/dnnl_ops.h"
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
    const bool include_pad = c.node.attr_i("count_include_pad", 0) != 0;
    // oneDNN's pooling, with the end padding grown to cover ceil_mode's extra
    // windows; those count as padding for include_padding, which ONNX does not
    // do, so that one case keeps our own loop.
    kernels::PoolDesc d{x[0], x[1], g.in, g.kernel, g.out, g.strides, g.dilations, g.pad_begin, g.pad_end, max, include_pad};
    d.src_held = c.input_blocked(0);
    d.dst_held = c.output_blocked(0);
    d.held = c.held;
    bool grown = false;
    for (size_t i = 0; i < g.in.size(); ++i) {
      const int64_t span = (g.kernel[i] - 1) * g.dilations[i] + 1;
      d.pad_end[i] = (g.out[i] - 1) * g.strides[i] + span - g.in[i] - g.pad_begin[i];
      grown = grown || d.pad_end[i] != g.pad_end[i];
    }
    if (!(include_pad && !max && grown) && shape_numel(c.out[0].shape) > 0) {
      try {
        auto prim = std::make_shared<const kernels::Pool>(d);
        return kernel_fn(
            [prim](const RunArgs& a) {
              prim->run(static_cast<const float*>(a.in[0]), static_cast<float*>(a.out[0]), a.scratch, *a.dnnl);
            },
            prim->scratch_bytes(), prim->implementation());
      } catch (const dnnl::error& e) {
        // a shape oneDNN does not take (e.g. padding beyond the window): our loop below
        if (d.src_held || d.dst_held) c.fail(std::string("oneDNN cannot pool this held-layout tensor: ") + e.what());
      }
    }
    if (d.src_held || d.dst_held) c.fail("this pooling cannot run on the convolutions' held layout");
    auto p = kernels::make_pool_params(x[0], x[1], g.in, g.out, g.kernel, g.strides, g.dilations, g.pad_begin,
                                       g.pad_end);
    p.max = max;
    p.count_include_pad = include_pad;
    return kernel_fn([p](const RunArgs& a) {
      kernels::pool(p, static_cast<const float*>(a.in[0]), static_cast<float*>(a.out[0]));
    });
  };
}

KernelFactory global_pool(bool max) {
  return [max](const BindContext& c) {
    const Shape& x = c.in_shape(0);
    if (c.input_blocked(0)) {
      // A whole-window oneDNN pooling on the held layout; its [N, C, 1, 1]
      // result is written held where those are plain bytes too (else plain,
      // by oneDNN's slower mixed-layout pooling).
      const Shape spatial(x.begin() + 2, x.end());
      kernels::PoolDesc d{x[0], x[1], spatial, spatial, Shape(spatial.size(), 1), Shape(spatial.size(), 1),
                          Shape(spatial.size(), 1), Shape(spatial.size(), 0), Shape(spatial.size(), 0), max, false};
      d.src_held = true;
      d.dst_held = c.output_blocked(0) || kernels::held_is_plain_1x1(c.held, x[1]);
      d.held = c.held;
      auto prim = std::make_shared<const kernels::Pool>(d);
      return kernel_fn(
          [prim](const RunArgs& a) {
            prim->run(static_cast<const float*>(a.in[0]), static_cast<float*>(a.out[0]), a.scratch, *a.dnnl);
          },
          prim->scratch_bytes(), prim->implementation());
    }
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
