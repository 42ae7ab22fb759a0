// Softmax and LogSoftmax along one axis (opset >= 13) or over the flattened
// trailing dims (< 13), and normrt.AddSoftmax (graph/passes/fuse_add_softmax).
#include "graph/geometry.h"
#include "kernels/elementwise.h"
#include "kernels/softmax.h"
#include "runtime/ops/broadcast.h"
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

// Softmax over the last axis of a + b (numpy broadcasting): each row is
// summed into the output, where it stays in cache, and normalized there.
// The same bits as Add then Softmax.
std::unique_ptr<Kernel> add_softmax(const BindContext& c) {
  const Shape& out = c.out[0].shape;
  const int64_t r = int64_t(out.size());
  if (normalize_axis(c.node.attr_i("axis", -1), r, c.where) != r - 1) c.fail("AddSoftmax normalizes the last axis only");
  if (shape_numel(out) == 0) return kernel_fn([](const RunArgs&) {});
  const Broadcast bc(c.in_shape(0), c.in_shape(1), out);
  const int64_t n = out.back(), per = bc.inner / n;  // softmax rows in one broadcast row
  const auto add = kernels::elementwise_table_for(c.isa).binary;
  const auto normalize = kernels::softmax_table_for(c.isa).row;
  return kernel_fn([=](const RunArgs& a) {
    auto* x = static_cast<const float*>(a.in[0]);
    auto* m = static_cast<const float*>(a.in[1]);
    auto* y = static_cast<float*>(a.out[0]);
    const int64_t rows = bc.rows * per;
#pragma omp parallel for schedule(static) if (rows * n > 16384)
    for (int64_t i = 0; i < rows; ++i) {
      int64_t oa, ob;
      bc.offsets(i / per, oa, ob);
      const int64_t at = i % per * n;
      add(kernels::Binary::add, x + oa + at * bc.sa, bc.sa, m + ob + at * bc.sb, bc.sb, y + i * n, n);
      normalize(y + i * n, y + i * n, n);
    }
  });
}

}  // namespace

void register_softmax_ops(Registry& r) {
  r.add("Softmax", 1, 18, softmax_op(false));
  r.add("LogSoftmax", 1, 18, softmax_op(true));
  r.add("AddSoftmax", 1, 999, add_softmax, "normrt");
}

}  // namespace normrt
