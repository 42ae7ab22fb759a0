// Einsum. Two operands whose indices are each used twice (batch, kept or
// contracted; attention's "bhqd,bhkd->bhqk", a linear layer's "bti,oi->bto")
// run as one oneDNN batched matmul, each operand read in place when its
// indices are already grouped that way (transposed if need be), else
// regrouped by a strided copy first. Everything else (diagonals, sums over
// an index of one operand, broadcast dims of 1, three or more operands) is
// summed term by term in double.
#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "graph/geometry.h"
#include "runtime/ops/strided_copy.h"
#include "runtime/registry.h"

namespace normrt {
namespace {

// Element strides of `shape` for `labels` (0 for a label the term lacks);
// axes with one label add up (a diagonal), and an axis of 1 standing for a
// larger dim broadcasts.
Shape label_strides(const std::vector<int>& term, const Shape& shape, const std::vector<int>& labels,
                    const EinsumLabels& e) {
  const Shape dense = strides_of(shape);
  Shape r(labels.size(), 0);
  for (size_t l = 0; l < labels.size(); ++l)
    for (size_t a = 0; a < term.size(); ++a)
      if (term[a] == labels[l] && !(shape[a] == 1 && e.dims.at(labels[l]) != 1)) r[l] += dense[a];
  return r;
}

bool contains(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// An operand or result of the matmul [batch, rows, cols]: read in place (as
// is, or transposed when stored [batch, cols, rows]), or gathered by a copy.
struct Operand {
  std::vector<int64_t> perm;        // {0, 2, 1} when transposed
  std::optional<StridedCopy> copy;  // when neither
};

std::vector<int> joined(std::vector<int> x, const std::vector<int>& y, const std::vector<int>& z) {
  x.insert(x.end(), y.begin(), y.end());
  x.insert(x.end(), z.begin(), z.end());
  return x;
}

Shape dims_of(const std::vector<int>& labels, const EinsumLabels& e) {
  Shape d;
  for (int l : labels) d.push_back(e.dims.at(l));
  return d;
}

// An operand (labels `stored`, dims `shape`) as the matmul's [batch, rows, cols].
Operand grouped(const std::vector<int>& stored, const Shape& shape, const std::vector<int>& batch,
                const std::vector<int>& rows, const std::vector<int>& cols, const EinsumLabels& e) {
  const std::vector<int> as_is = joined(batch, rows, cols);
  Operand o;
  if (stored == as_is) return o;
  if (stored == joined(batch, cols, rows)) {
    o.perm = {0, 2, 1};
    return o;
  }
  o.copy.emplace(dims_of(as_is, e), label_strides(stored, shape, as_is, e), 0, sizeof(float));
  return o;
}

std::unique_ptr<Kernel> as_matmul(const BindContext& c, const EinsumLabels& e) {
  if (e.terms.size() != 2) return nullptr;
  const std::vector<int>&a = e.terms[0], &b = e.terms[1], &out = e.out;
  for (size_t k = 0; k < 2; ++k) {
    const auto& t = e.terms[k];
    for (size_t i = 0; i < t.size(); ++i) {
      if (std::count(t.begin(), t.end(), t[i]) != 1) return nullptr;              // a diagonal
      if (c.in_shape(k)[i] != e.dims.at(t[i])) return nullptr;                      // a broadcast 1
      if (!contains(out, t[i]) && !contains(e.terms[1 - k], t[i])) return nullptr;  // summed in one operand
    }
  }
  std::vector<int> batch, M, N, K;
  for (int l : out) {
    if (contains(a, l) && contains(b, l)) batch.push_back(l);
    else if (contains(a, l)) M.push_back(l);
    else if (contains(b, l)) N.push_back(l);
    else return nullptr;  // an output index in neither (cannot happen: parsing checks)
  }
  for (int l : a)
    if (contains(b, l) && !contains(out, l)) K.push_back(l);
  // A regrouping copy walks at most kMaxBroadcastRank dims; beyond, the summed form.
  if (a.size() > kMaxBroadcastRank || b.size() > kMaxBroadcastRank || out.size() > kMaxBroadcastRank) return nullptr;
  auto count = [&](const std::vector<int>& labels) { return shape_numel(dims_of(labels, e)); };
  const int64_t nb = count(batch), m = count(M), n = count(N), k = count(K);
  const size_t out_bytes = size_t(nb * m * n) * sizeof(float);
  if (k == 0) return kernel_fn([out_bytes](const RunArgs& r) { std::memset(r.out[0], 0, out_bytes); });

  const Operand A = grouped(a, c.in_shape(0), batch, M, K, e);
  const Operand B = grouped(b, c.in_shape(1), batch, K, N, e);
  // The result [batch, M, N] into the output's order: y_perm, or a copy from scratch.
  Operand Y;
  const std::vector<int> result = joined(batch, M, N);
  if (out != result) {
    if (out == joined(batch, N, M)) Y.perm = {0, 2, 1};
    else Y.copy.emplace(e.out_shape(), label_strides(result, dims_of(result, e), out, e), 0, sizeof(float));
  }
  kernels::MatMulDesc d;
  d.a_dims = A.perm.empty() ? Shape{nb, m, k} : Shape{nb, k, m};
  d.b_dims = B.perm.empty() ? Shape{nb, k, n} : Shape{nb, n, k};
  d.a_perm = A.perm;
  d.b_perm = B.perm;
  d.y_perm = Y.perm;
  auto prim = std::make_shared<const kernels::MatMul>(d, kernels::WeightSource{}, nullptr);
  const size_t a_at = 0, b_at = A.copy ? size_t(nb * m * k) : 0, y_at = b_at + (B.copy ? size_t(nb * k * n) : 0);
  const size_t dnnl_at = (y_at + (Y.copy ? size_t(nb * m * n) : 0)) * sizeof(float);
  const size_t dnnl_offset = (dnnl_at + 63) / 64 * 64;
  return kernel_fn(
      [prim, A, B, Y, a_at, b_at, y_at, dnnl_offset](const RunArgs& r) {
        auto* s = static_cast<float*>(r.scratch);
        const float* pa = static_cast<const float*>(r.in[0]);
        const float* pb = static_cast<const float*>(r.in[1]);
        if (A.copy) A.copy->run(pa, s + a_at), pa = s + a_at;
        if (B.copy) B.copy->run(pb, s + b_at), pb = s + b_at;
        float* py = Y.copy ? s + y_at : static_cast<float*>(r.out[0]);
        prim->run(pa, pb, py, static_cast<char*>(r.scratch) + dnnl_offset, *r.dnnl);
        if (Y.copy) Y.copy->run(py, r.out[0]);
      },
      dnnl_offset + prim->scratch_bytes(), prim->implementation());
}

constexpr size_t kMaxSummedLabels = 32, kMaxSummedInputs = 8;
using Offsets = std::array<int64_t, kMaxSummedInputs + 1>;

// Calls f(offsets) for every index of `dims` in order, offsets[s] stepping
// from `off`[s] by strides[s] along each dim.
template <class F>
void odometer(const Shape& dims, const std::vector<Shape>& strides, Offsets off, F&& f) {
  const int64_t total = shape_numel(dims);
  const size_t rank = dims.size(), n = strides.size();
  std::array<int64_t, kMaxSummedLabels> idx{};
  for (int64_t i = 0; i < total; ++i) {
    f(off);
    for (size_t d = rank; d-- > 0;) {
      for (size_t k = 0; k < n; ++k) off[k] += strides[k][d];
      if (++idx[d] < dims[d]) break;
      for (size_t k = 0; k < n; ++k) off[k] -= strides[k][d] * dims[d];
      idx[d] = 0;
    }
  }
}

// The sum in double. An index only one operand has (and the output lacks)
// is summed within that operand first, so "i,j->" costs |i| + |j|, not
// |i| * |j|; every other index is walked once, the output's outermost.
std::unique_ptr<Kernel> summed(const BindContext& c, const EinsumLabels& e) {
  const size_t n = e.terms.size();
  if (n > kMaxSummedInputs) c.fail("this einsum needs 8 inputs or fewer");
  auto terms_with = [&](int l) {
    size_t count = 0;
    for (auto& t : e.terms) count += contains(t, l);
    return count;
  };
  std::vector<int> shared = e.out;
  std::vector<std::vector<int>> own(n);  // per operand, the indices only it has
  for (size_t k = 0; k < n; ++k)
    for (int l : e.terms[k]) {
      if (contains(e.out, l) || contains(shared, l) || contains(own[k], l)) continue;
      (terms_with(l) > 1 ? shared : own[k]).push_back(l);
    }
  auto walked = [&](const std::vector<int>& labels) {  // the dims an odometer walks
    if (labels.size() > kMaxSummedLabels) c.fail("more than 32 distinct indices");
    return dims_of(labels, e);
  };
  const Shape dims = walked(shared);
  // The output's strides (0 for indices it lacks), then each operand's.
  std::vector<Shape> strides = {label_strides(e.out, e.out_shape(), shared, e)};
  std::vector<Shape> own_dims;
  std::vector<std::vector<Shape>> own_strides;
  for (size_t k = 0; k < n; ++k) {
    strides.push_back(label_strides(e.terms[k], c.in_shape(k), shared, e));
    own_dims.push_back(walked(own[k]));
    own_strides.push_back({label_strides(e.terms[k], c.in_shape(k), own[k], e)});
  }
  // The work, bounded so a small model cannot keep a run (or the folding of
  // constants at load) busy for hours: each index of `dims` walks every
  // operand's own indices once.
  auto saturated_product = [](const Shape& d) {
    int64_t m = 1;
    for (int64_t x : d)
      if (__builtin_mul_overflow(m, x, &m)) return INT64_MAX;
    return m;
  };
  int64_t per = 0, work = 0;
  for (auto& d : own_dims) {
    const int64_t m = std::max<int64_t>(saturated_product(d), 1);
    per = m > INT64_MAX - per ? INT64_MAX : per + m;
  }
  if (__builtin_mul_overflow(saturated_product(dims), std::max<int64_t>(per, 1), &work) || work > (int64_t(1) << 36))
    c.fail("this einsum would take more than 2^36 steps summed term by term");
  const int64_t count = shape_numel(e.out_shape());
  return kernel_fn(
      [dims, strides, own_dims, own_strides, count, n](const RunArgs& r) {
        auto* acc = static_cast<double*>(r.scratch);
        std::fill(acc, acc + count, 0.0);
        odometer(dims, strides, Offsets{}, [&](const Offsets& off) {
          double p = 1;
          for (size_t k = 0; k < n; ++k) {
            const auto* x = static_cast<const float*>(r.in[k]);
            if (own_dims[k].empty()) {
              p *= double(x[off[k + 1]]);
              continue;
            }
            double v = 0;
            Offsets start{};
            start[0] = off[k + 1];
            odometer(own_dims[k], own_strides[k], start, [&](const Offsets& o) { v += double(x[o[0]]); });
            p *= v;
          }
          acc[off[0]] += p;
        });
        auto* y = static_cast<float*>(r.out[0]);
        for (int64_t i = 0; i < count; ++i) y[i] = float(acc[i]);
      },
      size_t(count) * sizeof(double));
}

std::unique_ptr<Kernel> einsum(const BindContext& c) {
  std::vector<Shape> shapes;
  for (size_t k = 0; k < c.in.size(); ++k) shapes.push_back(c.in_shape(k));
  const EinsumLabels e = einsum_labels(c.node.attr_s("equation", ""), shapes, c.where);
  if (auto k = as_matmul(c, e)) return k;
  return summed(c, e);
}

}  // namespace

void register_einsum_ops(Registry& r) { r.add("Einsum", 12, 18, einsum); }

}  // namespace normrt
