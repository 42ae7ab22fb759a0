// Add, Sub, Mul, Div, Mod, Sum, Mean, Max, Min (any number of inputs) and PRelu with numpy
// broadcasting: float32 on the vectorized kernels, int64/int32 (shape
// arithmetic) in plain loops.
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "kernels/elementwise.h"
#include "runtime/ops/broadcast.h"
#include "runtime/registry.h"

namespace normrt {
namespace {
using kernels::Binary;

// Integer arithmetic wraps (done unsigned: signed overflow is undefined in
// C++); division by zero, which ONNX leaves unspecified, gives 0.
template <class T>
T apply(Binary op, T x, T y) {
  using U = std::make_unsigned_t<T>;
  switch (op) {
    case Binary::add: return T(U(x) + U(y));
    case Binary::sub: return T(U(x) - U(y));
    case Binary::mul: return T(U(x) * U(y));
    case Binary::max: return x > y ? x : y;
    case Binary::min: return x < y ? x : y;
    case Binary::prelu: return x < 0 ? T(U(x) * U(y)) : x;
    case Binary::fmod:
    case Binary::mod: {
      if (y == 0 || y == -1) return T(0);  // (x % -1 overflows for the most negative x)
      const T r = x % y;
      return op == Binary::mod && r != 0 && ((r < 0) != (y < 0)) ? T(U(r) + U(y)) : r;
    }
    case Binary::div: break;
  }
  if (y == 0) return T(0);
  if (y == -1) return T(U(0) - U(x));
  return x / y;
}

// z = x op y over bc's index space, split over the threads.
void run_float(Binary op, const Broadcast& bc, Isa isa, const float* x, const float* y, float* z) {
  auto f = kernels::elementwise_table_for(isa).binary;
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
}

template <class T>
void run_int(Binary op, const Broadcast& bc, const T* x, const T* y, T* z) {
  for (int64_t r = 0; r < bc.rows; ++r) {
    int64_t oa, ob;
    bc.offsets(r, oa, ob);
    for (int64_t i = 0; i < bc.inner; ++i) z[r * bc.inner + i] = apply<T>(op, x[oa + i * bc.sa], y[ob + i * bc.sb]);
  }
}

// z = ((in0 op in1) op in2) ...: the first step reads the first two inputs,
// each later one the output so far and the next input. One input is copied.
// `mean`: the sum divided by the number of inputs.
KernelFactory folded_op(Binary op, bool mean = false) {
  return [op, mean](const BindContext& c) -> std::unique_ptr<Kernel> {
    const Shape& out = c.out[0].shape;
    const size_t n = c.in.size();
    if (mean && c.out[0].dtype != DType::float32) c.fail("Mean of integers is not supported");
    if (n == 1) {
      const size_t bytes = size_t(shape_numel(out)) * dtype_size(c.out[0].dtype);
      return kernel_fn([bytes](const RunArgs& a) { if (bytes) std::memcpy(a.out[0], a.in[0], bytes); });
    }
    std::vector<Broadcast> steps{Broadcast(c.in_shape(0), c.in_shape(1), out)};
    for (size_t k = 2; k < n; ++k) steps.emplace_back(out, c.in_shape(k), out);
    const DType t = c.out[0].dtype;
    const Isa isa = c.isa;
    auto run = [=](auto tag, const RunArgs& a) {
      using T = decltype(tag);
      auto* z = static_cast<T*>(a.out[0]);
      for (size_t k = 0; k < steps.size(); ++k) {
        auto* x = k == 0 ? static_cast<const T*>(a.in[0]) : z;
        auto* y = static_cast<const T*>(a.in[k + 1]);
        if constexpr (std::is_same_v<T, float>) run_float(op, steps[k], isa, x, y, z);
        else run_int(op, steps[k], x, y, z);
      }
      if constexpr (std::is_same_v<T, float>)
        if (mean) {
          const int64_t count = shape_numel(out);
          for (int64_t i = 0; i < count; ++i) z[i] /= float(n);
        }
    };
    if (t == DType::float32) return kernel_fn([=](const RunArgs& a) { run(float{}, a); });
    if (t == DType::int64) return kernel_fn([=](const RunArgs& a) { run(int64_t{}, a); });
    if (t == DType::int32) return kernel_fn([=](const RunArgs& a) { run(int32_t{}, a); });
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

// Mod: C's fmod with fmod = 1 (which floats require), else Python's.
std::unique_ptr<Kernel> mod_op(const BindContext& c) {
  const bool c_style = c.node.attr_i("fmod", 0) != 0;
  if (!c_style && c.out[0].dtype == DType::float32) c.fail("Mod of floats needs fmod = 1");
  return folded_op(c_style ? Binary::fmod : Binary::mod)(c);
}

}  // namespace

void register_arithmetic_ops(Registry& r) {
  r.add("Add", 7, 18, folded_op(Binary::add));
  r.add("Sub", 7, 18, folded_op(Binary::sub));
  r.add("Mul", 7, 18, folded_op(Binary::mul));
  r.add("Div", 7, 18, folded_op(Binary::div));
  r.add("Sum", 8, 18, folded_op(Binary::add));
  r.add("Mean", 8, 18, folded_op(Binary::add, true));
  r.add("Mod", 10, 18, mod_op);
  r.add("Max", 8, 18, folded_op(Binary::max));
  r.add("Min", 8, 18, folded_op(Binary::min));
  r.add("PRelu", 7, 18, folded_op(Binary::prelu));
  r.add("Pow", 7, 18, pow_op);
}

}  // namespace normrt
