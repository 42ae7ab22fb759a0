// Conv on oneDNN: primitive and weight reorder made once per plan.
#include "graph/geometry.h"
#include "kernels/dnnl_ops.h"
#include "runtime/registry.h"

namespace normrt {
namespace {

std::unique_ptr<Kernel> conv(const BindContext& c) {
  const Shape& x = c.in_shape(0);
  const Shape& w = c.in_shape(1);
  kernels::ConvDesc d;
  d.N = x[0];
  d.C = x[1];
  d.OC = w[0];
  d.group = c.node.attr_i("group", 1);
  Shape spatial(x.begin() + 2, x.end()), kernel(w.begin() + 2, w.end());
  auto g = window_geometry(c.node, spatial, kernel, false, c.where);
  d.in = g.in;
  d.kernel = g.kernel;
  d.out = g.out;
  d.strides = g.strides;
  d.dilations = g.dilations;
  d.pad_begin = g.pad_begin;
  d.pad_end = g.pad_end;
  const Tensor* wt = c.constant(1);
  const Tensor* bt = c.constant(2);
  auto prim = std::make_shared<const kernels::Conv>(d, wt ? wt->data<float>() : nullptr, c.has_input(2),
                                                    bt ? bt->data<float>() : nullptr);
  return kernel_fn(
      [prim](const RunArgs& a) {
        prim->run(static_cast<const float*>(a.in[0]), static_cast<const float*>(a.in[1]),
                  static_cast<const float*>(a.in[2]), static_cast<float*>(a.out[0]), a.scratch, *a.stream);
      },
      prim->scratch_bytes());
}

}  // namespace

void register_conv_ops(Registry& r) { r.add("Conv", 1, 18, conv); }

}  // namespace normrt
