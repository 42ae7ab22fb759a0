// Add, Sub, Mul, Div with numpy broadcasting: float32 on the vectorized
// kernels, int64/int32 (shape arithmetic) in plain loops.
#include <cmath>
#include <limits>
#include <type_traits>

#include "kernels/elementwise.h"
#include "runtime/registry.h"

namespace normrt {
namespace {
using kernels::Binary;

// Output index space split into outer rows of `inner` elements; a and b step
// through each row with stride sa / sb (0 or 1).
struct Broadcast {
  int64_t inner = 1, sa = 1, sb = 1, rows = 1;
  Shape outer_dims, a_strides, b_strides;  // per outer dim, in elements

  Broadcast(Shape a, Shape b, const Shape& out) {
    const size_t r = out.size();
    a.insert(a.begin(), r - a.size(), 1);
    b.insert(b.begin(), r - b.size(), 1);
    // Strides, with 0 where a dim broadcasts.
    Shape as(r), bs(r);
    int64_t sa_acc = 1, sb_acc = 1;
    for (size_t i = r; i-- > 0;) {
      as[i] = a[i] == 1 ? 0 : sa_acc;
      bs[i] = b[i] == 1 ? 0 : sb_acc;
      sa_acc *= a[i];
      sb_acc *= b[i];
    }
    // Merge dims from the innermost while both operands stay contiguous (or broadcast) as one run.
    size_t k = r;
    inner = 1;
    bool a_full = true, b_full = true;  // operand is contiguous over the merged run (vs. broadcast)
    bool first = true;
    while (k > 0) {
      size_t i = k - 1;
      if (out[i] == 1) { --k; continue; }
      bool a_c = as[i] == inner && (first || a_full), a_b = as[i] == 0 && (first || !a_full);
      bool b_c = bs[i] == inner && (first || b_full), b_b = bs[i] == 0 && (first || !b_full);
      if (!((a_c || a_b) && (b_c || b_b))) break;
      if (first) { a_full = a_c; b_full = b_c; first = false; }
      inner *= out[i];
      --k;
    }
    sa = a_full ? 1 : 0;
    sb = b_full ? 1 : 0;
    for (size_t i = 0; i < k; ++i) {
      if (out[i] == 1) continue;
      outer_dims.push_back(out[i]);
      a_strides.push_back(as[i]);
      b_strides.push_back(bs[i]);
      rows *= out[i];
    }
  }

  void offsets(int64_t row, int64_t& oa, int64_t& ob) const {
    oa = ob = 0;
    for (size_t i = outer_dims.size(); i-- > 0;) {
      int64_t idx = row % outer_dims[i];
      row /= outer_dims[i];
      oa += idx * a_strides[i];
      ob += idx * b_strides[i];
    }
  }
};

// Integer arithmetic wraps (done unsigned: signed overflow is undefined in
// C++); division by zero, which ONNX leaves unspecified, gives 0.
template <class T>
T apply(Binary op, T x, T y) {
  using U = std::make_unsigned_t<T>;
  switch (op) {
    case Binary::add: return T(U(x) + U(y));
    case Binary::sub: return T(U(x) - U(y));
    case Binary::mul: return T(U(x) * U(y));
    default:
      if (y == 0) return T(0);
      if (y == -1) return T(U(0) - U(x));
      return x / y;
  }
}

KernelFactory binary_op(Binary op) {
  return [op](const BindContext& c) -> std::unique_ptr<Kernel> {
    Broadcast bc(c.in_shape(0), c.in_shape(1), c.out[0].shape);
    DType t = c.out[0].dtype;
    if (t == DType::float32) {
      auto f = kernels::elementwise_table_for(c.isa).binary;
      return kernel_fn([=](const RunArgs& a) {
        auto* x = static_cast<const float*>(a.in[0]);
        auto* y = static_cast<const float*>(a.in[1]);
        auto* z = static_cast<float*>(a.out[0]);
        if (bc.rows == 1) {
          // One long row: split it so every thread gets a share.
          constexpr int64_t kChunk = 16384;
          int64_t chunks = (bc.inner + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
          for (int64_t ch = 0; ch < chunks; ++ch) {
            int64_t b = ch * kChunk, n = std::min(kChunk, bc.inner - b);
            f(op, x + b * bc.sa, bc.sa, y + b * bc.sb, bc.sb, z + b, n);
          }
          return;
        }
#pragma omp parallel for schedule(static) if (bc.rows * bc.inner > 32768)
        for (int64_t r = 0; r < bc.rows; ++r) {
          int64_t oa, ob;
          bc.offsets(r, oa, ob);
          f(op, x + oa, bc.sa, y + ob, bc.sb, z + r * bc.inner, bc.inner);
        }
      });
    }
    auto int_loop = [bc, op](auto tag, const RunArgs& a) {
      using T = decltype(tag);
      auto* x = static_cast<const T*>(a.in[0]);
      auto* y = static_cast<const T*>(a.in[1]);
      auto* z = static_cast<T*>(a.out[0]);
      for (int64_t r = 0; r < bc.rows; ++r) {
        int64_t oa, ob;
        bc.offsets(r, oa, ob);
        for (int64_t i = 0; i < bc.inner; ++i) z[r * bc.inner + i] = apply<T>(op, x[oa + i * bc.sa], y[ob + i * bc.sb]);
      }
    };
    if (t == DType::int64) return kernel_fn([=](const RunArgs& a) { int_loop(int64_t{}, a); });
    if (t == DType::int32) return kernel_fn([=](const RunArgs& a) { int_loop(int32_t{}, a); });
    c.fail(std::string("type ") + dtype_name(t) + " is not supported");
  };
}

// Pow: x * x for the constant exponent 2 that LayerNorm exports use, sqrt for
// 0.5, std::pow otherwise.
std::unique_ptr<Kernel> pow_op(const BindContext& c) {
  Broadcast bc(c.in_shape(0), c.in_shape(1), c.out[0].shape);
  const Tensor* e = c.constant(1);
  const DType et = c.in[1]->dtype;
  const float k = e && e->numel() == 1 && et == DType::float32 ? e->data<float>()[0]
                                                                : std::numeric_limits<float>::quiet_NaN();
  const int64_t n = shape_numel(c.out[0].shape);
  if (k == 2.f && bc.rows * bc.inner == n && bc.sa == 1) {
    auto f = kernels::elementwise_table_for(c.isa).binary;
    return kernel_fn([=](const RunArgs& a) {
      auto* x = static_cast<const float*>(a.in[0]);
      f(Binary::mul, x, 1, x, 1, static_cast<float*>(a.out[0]), n);
    });
  }
  return kernel_fn([=](const RunArgs& a) {
    auto* x = static_cast<const float*>(a.in[0]);
    auto* z = static_cast<float*>(a.out[0]);
    with_element_type(et, [&](auto type) {  // float, int64 or int32 exponents (shape inference allows no other)
      auto* e = static_cast<const decltype(type)*>(a.in[1]);
      for (int64_t r = 0; r < bc.rows; ++r) {
        int64_t oa, ob;
        bc.offsets(r, oa, ob);
        for (int64_t i = 0; i < bc.inner; ++i) {
          const float base = x[oa + i * bc.sa], ex = float(e[ob + i * bc.sb]);
          z[r * bc.inner + i] = ex == 0.5f ? std::sqrt(base) : std::pow(base, ex);
        }
      }
    });
  });
}

}  // namespace

void register_arithmetic_ops(Registry& r) {
  r.add("Add", 7, 18, binary_op(Binary::add));
  r.add("Sub", 7, 18, binary_op(Binary::sub));
  r.add("Mul", 7, 18, binary_op(Binary::mul));
  r.add("Div", 7, 18, binary_op(Binary::div));
  r.add("Pow", 7, 18, pow_op);
}

}  // namespace normrt
