// Softmax and LogSoftmax along one axis (opset >= 13) or over the flattened trailing dims (< 13).
#include "graph/geometry.h"
#include "kernels/softmax.h"
#include "runtime/registry.h"

namespace normrt {
namespace {

KernelFactory softmax_op(bool log) {
  return [log](const BindContext& c) -> std::unique_ptr<Kernel> {
  const Shape& x = c.in_shape(0);
  const int64_t r = int64_t(x.size());
  if (r == 0) c.fail("Softmax of a scalar is not supported");
  const int64_t axis = normalize_axis(c.node.attr_i("axis", c.opset >= 13 ? -1 : 1), r, c.where);
  int64_t outer = 1, n = 1, inner = 1;
  for (int64_t i = 0; i < r; ++i) {
    int64_t d = x[size_t(i)];
    if (i < axis) outer *= d;
    else if (i == axis || c.opset < 13) n *= d;
    else inner *= d;
  }
  const Isa isa = c.isa;
  return kernel_fn([=](const RunArgs& a) {
    kernels::softmax(isa, static_cast<const float*>(a.in[0]), static_cast<float*>(a.out[0]), outer, n, inner, log);
  });
  };
}

}  // namespace

void register_softmax_ops(Registry& r) {
  r.add("Softmax", 1, 18, softmax_op(false));
  r.add("LogSoftmax", 1, 18, softmax_op(true));
}

}  // namespace normrt
