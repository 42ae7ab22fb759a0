#include "graph/shape_inference.h"

#include <onnx/defs/data_type_utils.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>

#include "graph/geometry.h"
#include "graph/onnx_schema.h"

namespace normrt {
namespace {

using Ins = std::vector<const ValueInfo*>;
using Outs = std::vector<ValueInfo>;
struct Ctx {
  const Node& n;
  const Ins& in;
  int64_t opset;
  const std::string& where;

  const ValueInfo& input(size_t k) const {
    if (k >= in.size() || !in[k]) throw Error(where + ": required input " + std::to_string(k) + " is missing");
    return *in[k];
  }
  const Tensor& known(size_t k, const char* what) const {
    auto& v = input(k);
    if (!v.value)
      throw Error(where + ": input '" + n.inputs[k] + "' (" + what +
                  ") must be known before running (a constant or computed from input shapes)");
    return *v.value;
  }
  void expect_float(size_t k) const {
    if (input(k).dtype != DType::float32)
      throw Error(where + ": input " + std::to_string(k) + " has type " + dtype_name(input(k).dtype) +
                  ", only float32 is supported");
  }
  void expect_rank_at_least(size_t k, size_t r) const {
    if (input(k).shape.size() < r)
      throw Error(where + ": input " + std::to_string(k) + " has shape " + shape_str(input(k).shape) +
                  ", needs rank >= " + std::to_string(r));
  }
  // The type a dtype attribute names (Cast's `to`, EyeLike's `dtype`) as a
  // graph holds it (float16 and bfloat16 as float32), or an Error: "<what><type name> is
  // not supported" (codes past int32 refused, not wrapped).
  DType dtype_attr(const char* attr, const std::string& what) const {
    const int64_t code = n.attr_i(attr, 0);
    if (code < 0 || code > 1000 || !dtype_held(int32_t(code)))
      throw Error(where + ": " + what + onnx_dtype_name(int32_t(code)) + " is not supported");
    return held_dtype(int32_t(code));
  }
  Outs one(DType t, Shape s) const {
    Outs o(1);
    o[0].dtype = t;
    o[0].shape = std::move(s);
    return o;
  }
};

Outs same_as_input(const Ctx& c) {
  c.expect_float(0);
  return c.one(DType::float32, c.input(0).shape);
}

Outs identity(const Ctx& c) { return c.one(c.input(0).dtype, c.input(0).shape); }

Outs dropout(const Ctx& c) {
  Outs o = identity(c);
  if (c.n.outputs.size() > 1 && !c.n.outputs[1].empty()) {
    o.push_back(ValueInfo{DType::boolean, c.input(0).shape, nullptr});
  }
  if (c.in.size() > 2 && c.in[2] && (!c.in[2]->value || c.in[2]->value->as_int64().at(0) != 0))
    throw Error(c.where + ": Dropout's training_mode must be a constant false (inference only)");
  return o;
}

Outs batch_norm(const Ctx& c) {
  c.expect_float(0);
  c.expect_rank_at_least(0, 2);
  const bool training = c.n.attr_i("training_mode", 0) != 0;
  if (!training && c.n.outputs.size() > 1)
    throw Error(c.where + ": the running mean/var outputs need training_mode=1 (opset 14+)");
  if (training && c.opset < 14) throw Error(c.where + ": training_mode needs opset 14 or later");
  int64_t C = c.input(0).shape[1];
  for (size_t k = 1; k <= 4; ++k)
    if (c.input(k).shape != Shape{C})
      throw Error(c.where + ": parameter " + std::to_string(k) + " has shape " + shape_str(c.input(k).shape) +
                  ", expected [" + std::to_string(C) + "]");
  Outs o = c.one(DType::float32, c.input(0).shape);
  if (training) o.resize(3, ValueInfo{DType::float32, {C}, nullptr});
  return o;
}

// LayerNormalization and its relatives: Y like X; Mean and InvStdDev keep the
// leading dims and have 1 for each normalized one.
Outs layer_norm(const Ctx& c) {
  c.expect_float(0);
  const Shape& x = c.input(0).shape;
  const int64_t r = int64_t(x.size());
  if (r == 0) throw Error(c.where + ": input must not be a scalar");
  const int64_t axis = normalize_axis(c.n.attr_i("axis", -1), r, c.where);
  const Shape norm(x.begin() + axis, x.end());
  for (size_t k = 1; k < c.in.size(); ++k) {
    if (!c.in[k]) continue;
    c.expect_float(k);
    if (c.n.op_type == "AddLayerNormalization" && k == 1) continue;  // the residual: checked below
    if (broadcast_shapes(c.in[k]->shape, norm, c.where) != norm)
      throw Error(c.where + ": input " + std::to_string(k) + " has shape " + shape_str(c.in[k]->shape) +
                  ", does not broadcast to the normalized dims " + shape_str(norm));
  }
  if (c.n.op_type == "AddLayerNormalization") {
    // The sum may broadcast (x or the residual smaller); it is what is normalized.
    const Shape sum = broadcast_shapes(x, c.input(1).shape, c.where);
    if (int64_t(sum.size()) != r) throw Error(c.where + ": the residual has a higher rank than the input");
    return Outs{ValueInfo{DType::float32, sum, nullptr}, ValueInfo{DType::float32, sum, nullptr}};
  }
  Shape stat = x;
  for (int64_t i = axis; i < r; ++i) stat[size_t(i)] = 1;
  Outs o = c.one(DType::float32, x);
  o.resize(3, ValueInfo{DType::float32, stat, nullptr});
  return o;
}

Outs instance_norm(const Ctx& c) {
  c.expect_float(0);
  c.expect_rank_at_least(0, 3);
  const int64_t C = c.input(0).shape[1];
  for (size_t k = 1; k <= 2; ++k)
    if (c.input(k).shape != Shape{C})
      throw Error(c.where + ": input " + std::to_string(k) + " must have shape [" + std::to_string(C) + "]");
  return c.one(DType::float32, c.input(0).shape);
}

Outs reverse_sequence(const Ctx& c) {
  const Shape& x = c.input(0).shape;
  const int64_t time_axis = c.n.attr_i("time_axis", 0), batch_axis = c.n.attr_i("batch_axis", 1);
  if (x.size() < 2 || (time_axis != 0 && time_axis != 1) || (batch_axis != 0 && batch_axis != 1) ||
      time_axis == batch_axis)
    throw Error(c.where + ": needs rank >= 2 and time_axis, batch_axis one each of 0 and 1");
  if (c.input(1).dtype != DType::int64 || c.input(1).shape != Shape{x[size_t(batch_axis)]})
    throw Error(c.where + ": sequence_lens must be int64 of shape [" + std::to_string(x[size_t(batch_axis)]) + "]");
  return c.one(c.input(0).dtype, x);
}

Outs pow_op(const Ctx& c) {
  c.expect_float(0);
  DType e = c.input(1).dtype;
  if (e != DType::float32 && e != DType::int32 && e != DType::int64)
    throw Error(c.where + ": exponent type " + dtype_name(e) + " is not supported");
  return c.one(DType::float32, broadcast_shapes(c.input(0).shape, c.input(1).shape, c.where));
}

}  // namespace

// The axes a Reduce* node reduces (sorted, non-negative); empty with
// noop_with_empty_axes means none. Axes come from the attribute, or from
// input 1 for ReduceSum at opset 13+ and every Reduce* at 18+.
std::vector<int64_t> reduce_axes(const Node& n, const std::vector<const ValueInfo*>& in, int64_t opset,
                                 const std::string& where) {
  const int64_t r = int64_t(in.at(0)->shape.size());
  const bool axes_input = opset >= 18 || (n.op_type == "ReduceSum" && opset >= 13);
  std::vector<int64_t> axes;
  if (axes_input) {
    if (in.size() > 1 && in[1]) {
      if (!in[1]->value) throw Error(where + ": axes must be known before running");
      axes = in[1]->value->as_int64();
    }
  } else {
    axes = n.attr_ints("axes");
  }
  if (axes.empty()) {
    if (n.attr_i("noop_with_empty_axes", 0)) return {};
    for (int64_t i = 0; i < r; ++i) axes.push_back(i);
  }
  for (auto& a : axes) a = normalize_axis(a, r, where);
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) throw Error(where + ": repeated axis");
  return axes;
}

namespace {

Outs reduce(const Ctx& c) {
  c.expect_float(0);
  auto axes = reduce_axes(c.n, c.in, c.opset, c.where);
  Shape out;
  const Shape& x = c.input(0).shape;
  const bool keep = c.n.attr_i("keepdims", 1) != 0;
  for (size_t i = 0; i < x.size(); ++i) {
    bool reduced = std::binary_search(axes.begin(), axes.end(), int64_t(i));
    if (reduced && x[i] == 0 && (c.n.op_type == "ReduceMean" || c.n.op_type == "ReduceMax" || c.n.op_type == "ReduceMin"))
      throw Error(c.where + ": cannot reduce over an empty dim");
    if (!reduced) out.push_back(x[i]);
    else if (keep) out.push_back(1);
  }
  return c.one(DType::float32, out);
}

Outs arg_reduce(const Ctx& c) {
  c.expect_float(0);
  Shape out = c.input(0).shape;
  const size_t axis = size_t(normalize_axis(c.n.attr_i("axis", 0), int64_t(out.size()), c.where));
  if (out[axis] == 0) throw Error(c.where + ": no index of an empty dim");
  if (c.n.attr_i("keepdims", 1)) out[axis] = 1;
  else out.erase(out.begin() + int64_t(axis));
  return c.one(DType::int64, out);
}

Outs top_k(const Ctx& c) {
  c.expect_float(0);
  Shape out = c.input(0).shape;
  const size_t axis = size_t(normalize_axis(c.n.attr_i("axis", -1), int64_t(out.size()), c.where));
  const std::vector<int64_t> k = c.known(1, "K").as_int64();
  if (k.size() != 1 || k[0] < 0 || k[0] > out[axis])
    throw Error(c.where + ": K must be one value in [0, " + std::to_string(out[axis]) + "]");
  out[axis] = k[0];
  return {ValueInfo{DType::float32, out, nullptr}, ValueInfo{DType::int64, out, nullptr}};
}

Outs size_op(const Ctx& c) {
  Outs o = c.one(DType::int64, {});
  auto t = std::make_shared<Tensor>(DType::int64, Shape{});
  t->data<int64_t>()[0] = shape_numel(c.input(0).shape);
  o[0].value = t;
  return o;
}

Outs transpose(const Ctx& c) {
  const Shape& x = c.input(0).shape;
  return c.one(c.input(0).dtype, permuted(x, permutation(c.n, "perm", x.size(), c.where)));
}

Outs cast(const Ctx& c) {
  return c.one(c.dtype_attr("to", "cast to "), c.input(0).shape);
}

Outs slice(const Ctx& c) {
  Shape out;
  for (auto& d : slice_node_dims(c.n, c.in, c.opset, c.where)) out.push_back(d.count);
  return c.one(c.input(0).dtype, out);
}

Outs pad(const Ctx& c) {
  std::vector<int64_t> pads, axes;
  if (c.opset < 11) {
    pads = c.n.attr_ints("pads");
  } else {
    pads = c.known(1, "pads").as_int64();
    if (c.in.size() > 2 && c.in[2] && c.input(2).dtype != c.input(0).dtype)
      throw Error(c.where + ": constant_value is " + dtype_name(c.input(2).dtype) + ", the data " +
                  dtype_name(c.input(0).dtype));
    if (c.in.size() > 2 && c.in[2] && shape_numel(c.input(2).shape) != 1)
      throw Error(c.where + ": constant_value must be one value, not of shape " + shape_str(c.input(2).shape));
    if (c.in.size() > 3 && c.in[3]) axes = c.known(3, "axes").as_int64();
  }
  return c.one(c.input(0).dtype, pad_dims(c.input(0).shape, pads, axes, c.n.attr_s("mode", "constant"), c.where).out);
}

Outs resize(const Ctx& c) {
  c.expect_float(0);
  std::vector<float> scales;
  std::vector<int64_t> sizes;
  if (c.in.size() > 2 && c.in[2]) {
    const Tensor& t = c.known(2, "scales");
    if (t.numel() > 0) {
      if (t.dtype != DType::float32) throw Error(c.where + ": scales must be float32");
      scales.assign(t.data<float>(), t.data<float>() + t.numel());
    }
  }
  if (c.in.size() > 3 && c.in[3]) sizes = c.known(3, "sizes").as_int64();
  const std::vector<int64_t> axes = c.opset >= 18 ? c.n.attr_ints("axes") : std::vector<int64_t>{};
  return c.one(DType::float32, resize_dims(c.input(0).shape, scales, sizes, axes, c.where).out);
}

Outs upsample(const Ctx& c) {
  c.expect_float(0);
  std::vector<float> scales;
  if (c.opset < 9) {
    scales = c.n.attr("scales") ? c.n.attr("scales")->fs : std::vector<float>{};
  } else {
    const Tensor& t = c.known(1, "scales");
    if (t.dtype != DType::float32) throw Error(c.where + ": scales must be float32");
    scales.assign(t.data<float>(), t.data<float>() + t.numel());
  }
  for (float s : scales)
    if (!(s >= 1)) throw Error(c.where + ": Upsample's scales must be 1 or more");
  return c.one(DType::float32, resize_dims(c.input(0).shape, scales, {}, {}, c.where).out);
}

Outs tile(const Ctx& c) {
  const Shape& x = c.input(0).shape;
  const std::vector<int64_t> r = c.known(1, "repeats").as_int64();
  if (r.size() != x.size())
    throw Error(c.where + ": repeats has " + std::to_string(r.size()) + " values for rank " + std::to_string(x.size()));
  Shape out;
  for (size_t d = 0; d < x.size(); ++d) {
    if (r[d] < 0) throw Error(c.where + ": negative repeat " + std::to_string(r[d]));
    if (x[d] > 0 && r[d] > kMaxTensorElements / x[d]) throw Error(c.where + ": repeats make a dim too large to count");
    out.push_back(x[d] * r[d]);
  }
  return c.one(c.input(0).dtype, out);
}

// DepthToSpace (to_space) and SpaceToDepth on NCHW with blocksize b.
Outs depth_space(const Ctx& c, bool to_space) {
  const Shape& x = c.input(0).shape;
  const int64_t b = c.n.attr_i("blocksize", 0);
  if (x.size() != 4) throw Error(c.where + ": input must be 4-d (NCHW), not rank " + std::to_string(x.size()));
  if (b < 1 || b > (1 << 12)) throw Error(c.where + ": blocksize " + std::to_string(b) + " is not a positive size");
  const std::string mode = c.n.attr_s("mode", "DCR");
  if (mode != "DCR" && mode != "CRD") throw Error(c.where + ": unknown mode '" + mode + "'");
  if (to_space) {
    if (x[1] % (b * b)) throw Error(c.where + ": channels " + std::to_string(x[1]) + " are not a multiple of blocksize^2");
    return c.one(c.input(0).dtype, {x[0], x[1] / (b * b), x[2] * b, x[3] * b});
  }
  if (x[2] % b || x[3] % b) throw Error(c.where + ": height and width must be multiples of blocksize");
  return c.one(c.input(0).dtype, {x[0], x[1] * b * b, x[2] / b, x[3] / b});
}

Outs trilu(const Ctx& c) {
  if (c.input(0).shape.size() < 2) throw Error(c.where + ": input must have rank 2 or more");
  if (c.in.size() > 1 && c.in[1] && (c.input(1).dtype != DType::int64 || shape_numel(c.input(1).shape) != 1))
    throw Error(c.where + ": k must be an int64 scalar");
  return identity(c);
}

Outs gather_elements(const Ctx& c) {
  const Shape &x = c.input(0).shape, &i = c.input(1).shape;
  if (c.input(1).dtype != DType::int64 && c.input(1).dtype != DType::int32)
    throw Error(c.where + ": indices must be int32 or int64");
  if (x.size() != i.size() || x.empty())
    throw Error(c.where + ": data (rank " + std::to_string(x.size()) + ") and indices (rank " + std::to_string(i.size()) +
                ") must have one rank, at least 1");
  const size_t axis = size_t(normalize_axis(c.n.attr_i("axis", 0), int64_t(x.size()), c.where));
  for (size_t d = 0; d < x.size(); ++d)
    if (d != axis && i[d] > x[d])
      throw Error(c.where + ": indices dim " + std::to_string(d) + " (" + std::to_string(i[d]) + ") is larger than data's (" +
                  std::to_string(x[d]) + ")");
  if (i[axis] > 0 && x[axis] == 0) throw Error(c.where + ": gathering from an empty dim");
  return c.one(c.input(0).dtype, i);
}

// ScatterElements and ScatterND: data's shape; indices and updates are
// checked against it where their shapes fix it (the index values, at run time).
Outs scatter(const Ctx& c) {
  const Shape &x = c.input(0).shape, &idx = c.input(1).shape, &upd = c.input(2).shape;
  if (c.input(1).dtype != DType::int64 && c.input(1).dtype != DType::int32)
    throw Error(c.where + ": indices must be int32 or int64");
  if (c.input(2).dtype != c.input(0).dtype) throw Error(c.where + ": updates and data have different types");
  const std::string reduction = c.n.attr_s("reduction", "none");
  if (reduction != "none" && reduction != "add" && reduction != "mul" && reduction != "max" && reduction != "min")
    throw Error(c.where + ": unknown reduction '" + reduction + "'");
  if (c.n.op_type == "ScatterElements") {
    if (idx != upd || idx.size() != x.size() || x.empty())
      throw Error(c.where + ": indices " + shape_str(idx) + " and updates " + shape_str(upd) +
                  " must have one shape, of data's rank " + std::to_string(x.size()));
    const size_t axis = size_t(normalize_axis(c.n.attr_i("axis", 0), int64_t(x.size()), c.where));
    for (size_t d = 0; d < x.size(); ++d)
      if (d != axis && idx[d] > x[d] && shape_numel(idx) > 0)
        throw Error(c.where + ": indices dim " + std::to_string(d) + " is larger than data's");
  } else {
    if (idx.empty() || idx.back() < 1 || idx.back() > int64_t(x.size()))
      throw Error(c.where + ": the last dim of indices " + shape_str(idx) + " must be in [1, " +
                  std::to_string(x.size()) + "]");
    Shape want(idx.begin(), idx.end() - 1);
    want.insert(want.end(), x.begin() + idx.back(), x.end());
    if (upd != want) throw Error(c.where + ": updates have shape " + shape_str(upd) + ", not " + shape_str(want));
  }
  return identity(c);
}

// LSTM, GRU, RNN: X [T, B, I] ([B, T, I] with layout 1), W [D, G*H, I],
// R [D, G*H, H], then the optional B [D, 2*G*H], sequence_lens [B],
// initial_h (and initial_c, LSTM) [D, B, H] ([B, D, H]), P [D, 3*H] (LSTM).
// Outputs Y [T, D, B, H] ([B, T, D, H]), Y_h and Y_c as initial_h.
Outs recurrent(const Ctx& c) {
  const std::string& op = c.n.op_type;
  const int64_t G = op == "LSTM" ? 4 : op == "GRU" ? 3 : 1;
  const std::string dir = c.n.attr_s("direction", "forward");
  if (dir != "forward" && dir != "reverse" && dir != "bidirectional")
    throw Error(c.where + ": direction '" + dir + "' is not forward, reverse or bidirectional");
  const int64_t D = dir == "bidirectional" ? 2 : 1;
  const int64_t layout = c.n.attr_i("layout", 0);
  if (layout != 0 && layout != 1) throw Error(c.where + ": layout must be 0 or 1");
  for (size_t k : {0, 1, 2}) c.expect_float(k);
  const Shape &x = c.input(0).shape, &w = c.input(1).shape, &r = c.input(2).shape;
  auto bad = [&](size_t k, const std::string& want) {
    throw Error(c.where + ": input " + std::to_string(k) + " has shape " + shape_str(c.input(k).shape) +
                ", expected " + want);
  };
  if (x.size() != 3) bad(0, "rank 3");
  const int64_t T = layout ? x[1] : x[0], B = layout ? x[0] : x[1], I = x[2];
  if (r.size() != 3 || r[0] != D || r[1] % G != 0 || r[1] / G != r[2]) bad(2, "[num_directions, " + std::to_string(G) + "*hidden_size, hidden_size]");
  const int64_t H = r[2];
  if (H == 0 || I == 0) throw Error(c.where + ": hidden_size and the input size must not be 0");
  if (c.n.has("hidden_size") && c.n.attr_i("hidden_size", 0) != H)
    throw Error(c.where + ": hidden_size " + std::to_string(c.n.attr_i("hidden_size", 0)) + " disagrees with R's shape " +
                shape_str(r));
  if (w != Shape{D, G * H, I}) bad(1, shape_str({D, G * H, I}));
  const Shape state = layout ? Shape{B, D, H} : Shape{D, B, H};
  auto optional = [&](size_t k) { return k < c.in.size() && c.in[k]; };
  if (optional(3)) {
    c.expect_float(3);
    if (c.input(3).shape != Shape{D, 2 * G * H}) bad(3, shape_str({D, 2 * G * H}));
  }
  if (optional(4)) {
    if (c.input(4).dtype != DType::int32) throw Error(c.where + ": sequence_lens must be int32");
    if (c.input(4).shape != Shape{B}) bad(4, shape_str({B}));
  }
  for (size_t k : {size_t(5), size_t(6)}) {
    if (k == 6 && G != 4) break;
    if (!optional(k)) continue;
    c.expect_float(k);
    if (c.input(k).shape != state) bad(k, shape_str(state));
  }
  if (G == 4 && optional(7)) {
    c.expect_float(7);
    if (c.input(7).shape != Shape{D, 3 * H}) bad(7, shape_str({D, 3 * H}));
  }
  const size_t outs = size_t(G == 4 ? 3 : 2);
  if (c.n.outputs.size() > outs) throw Error(c.where + ": " + op + " has at most " + std::to_string(outs) + " outputs");
  Outs o{ValueInfo{DType::float32, layout ? Shape{B, T, D, H} : Shape{T, D, B, H}, nullptr}};
  o.resize(outs, ValueInfo{DType::float32, state, nullptr});
  return o;
}

Outs einsum(const Ctx& c) {
  std::vector<Shape> shapes;
  for (size_t k = 0; k < c.in.size(); ++k) {
    c.expect_float(k);
    shapes.push_back(c.input(k).shape);
  }
  if (shapes.empty()) throw Error(c.where + ": needs at least one input");
  return c.one(DType::float32, einsum_labels(c.n.attr_s("equation", ""), shapes, c.where).out_shape());
}

Outs gather_nd(const Ctx& c) {
  const Shape &x = c.input(0).shape, &idx = c.input(1).shape;
  if (c.input(1).dtype != DType::int64 && c.input(1).dtype != DType::int32)
    throw Error(c.where + ": indices must be int32 or int64");
  const int64_t b = c.n.attr_i("batch_dims", 0), r = int64_t(x.size()), q = int64_t(idx.size());
  if (b < 0 || b >= std::min(r, q)) throw Error(c.where + ": batch_dims must be in [0, " + std::to_string(std::min(r, q)) + ")");
  if (idx.back() < 1 || idx.back() > r - b)
    throw Error(c.where + ": the last dim of indices " + shape_str(idx) + " must be in [1, " + std::to_string(r - b) + "]");
  for (int64_t d = 0; d < b; ++d)
    if (idx[size_t(d)] != x[size_t(d)])
      throw Error(c.where + ": batch dim " + std::to_string(d) + " is " + std::to_string(idx[size_t(d)]) +
                  " in indices and " + std::to_string(x[size_t(d)]) + " in data");
  Shape out(idx.begin(), idx.end() - 1);
  out.insert(out.end(), x.begin() + b + idx.back(), x.end());
  return c.one(c.input(0).dtype, out);
}

Outs eye_like(const Ctx& c) {
  if (c.input(0).shape.size() != 2) throw Error(c.where + ": input must have rank 2, not " + std::to_string(c.input(0).shape.size()));
  DType t = c.input(0).dtype;
  if (c.n.has("dtype")) t = c.dtype_attr("dtype", "dtype ");
  return c.one(t, c.input(0).shape);
}

Outs grid_sample(const Ctx& c) {
  c.expect_float(0);
  c.expect_float(1);
  const Shape &x = c.input(0).shape, &g = c.input(1).shape;
  if (x.size() != 4 || g.size() != 4 || g[3] != 2 || g[0] != x[0])
    throw Error(c.where + ": X " + shape_str(x) + " and grid " + shape_str(g) + " must be [N, C, H, W] and [N, H_out, W_out, 2]");
  if ((x[2] == 0 || x[3] == 0) && x[1] * g[1] * g[2] > 0)
    throw Error(c.where + ": X " + shape_str(x) + " has no pixels to sample");
  return c.one(DType::float32, {x[0], x[1], g[1], g[2]});
}

Outs one_hot(const Ctx& c) {
  const Tensor& depth = c.known(1, "depth");
  if (depth.numel() != 1) throw Error(c.where + ": depth must be a scalar");
  if (depth.dtype != DType::int64 && depth.dtype != DType::int32 && depth.dtype != DType::float32)
    throw Error(c.where + ": depth must be int32, int64 or float32");
  const double d = depth.dtype == DType::float32 ? double(depth.data<float>()[0]) : double(depth.as_int64()[0]);
  if (!(d >= 1 && d < double(kMaxTensorElements))) throw Error(c.where + ": depth " + std::to_string(d) + " is not a positive size");
  if (shape_numel(c.input(2).shape) != 2) throw Error(c.where + ": values must hold [off, on]");
  if (c.input(0).dtype != DType::int64 && c.input(0).dtype != DType::int32 && c.input(0).dtype != DType::float32)
    throw Error(c.where + ": indices must be int32, int64 or float32");
  Shape out = c.input(0).shape;
  const int64_t axis = normalize_axis(c.n.attr_i("axis", -1), int64_t(out.size()) + 1, c.where);
  out.insert(out.begin() + axis, int64_t(d));
  return c.one(c.input(2).dtype, out);
}

Outs cumsum(const Ctx& c) {
  const DType t = c.input(0).dtype;
  if (t != DType::float32 && t != DType::int64 && t != DType::int32)
    throw Error(c.where + ": type " + std::string(dtype_name(t)) + " is not supported");
  if (c.input(0).shape.empty()) throw Error(c.where + ": input must have rank 1 or more");
  if (shape_numel(c.input(1).shape) != 1) throw Error(c.where + ": axis must be a scalar");
  if (c.input(1).dtype != DType::int64 && c.input(1).dtype != DType::int32)
    throw Error(c.where + ": axis must be int32 or int64");
  return identity(c);
}

Outs constant_of_shape(const Ctx& c) {
  Shape out = c.known(0, "shape").as_int64();
  for (int64_t d : out)
    if (d < 0) throw Error(c.where + ": negative dimension in shape");
  const Attribute* v = c.n.attr("value");
  DType t = v && v->t ? v->t->dtype : DType::float32;
  return c.one(t, out);
}

Outs expand(const Ctx& c) {
  return c.one(c.input(0).dtype, broadcast_shapes(c.input(0).shape, c.known(1, "shape").as_int64(), c.where));
}

Outs split(const Ctx& c) {
  const Shape& x = c.input(0).shape;
  const int64_t axis = normalize_axis(c.n.attr_i("axis", 0), int64_t(x.size()), c.where);
  std::vector<int64_t> sizes;
  if (c.opset >= 13 && c.in.size() > 1 && c.in[1]) sizes = c.known(1, "split").as_int64();
  else if (c.opset < 13) sizes = c.n.attr_ints("split");
  const int64_t parts = int64_t(c.n.outputs.size()), d = x[size_t(axis)];
  if (sizes.empty()) {
    const int64_t each = (d + parts - 1) / parts;  // the last part may be smaller (opset 18)
    for (int64_t k = 0; k < parts; ++k) sizes.push_back(std::max<int64_t>(0, std::min(each, d - k * each)));
  }
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  if (int64_t(sizes.size()) != parts || total != d)
    throw Error(c.where + ": split sizes do not add up to the dim (" + std::to_string(d) + ")");
  Outs o;
  for (int64_t s : sizes) {
    Shape sh = x;
    sh[size_t(axis)] = s;
    o.push_back(ValueInfo{c.input(0).dtype, sh, nullptr});
  }
  return o;
}

Outs range(const Ctx& c) {
  auto scalar = [&](size_t k) -> double {
    const Tensor& t = c.known(k, "range bound");
    if (t.numel() != 1) throw Error(c.where + ": start, limit and delta must be scalars");
    return t.dtype == DType::float32 ? double(t.data<float>()[0]) : double(t.as_int64()[0]);
  };
  const double start = scalar(0), limit = scalar(1), delta = scalar(2);
  if (delta == 0) throw Error(c.where + ": delta is 0");
  const double n = std::ceil((limit - start) / delta);
  if (!(n < 1e9)) throw Error(c.where + ": range too long");
  return c.one(c.input(0).dtype, {n > 0 ? int64_t(n) : 0});
}

Outs where(const Ctx& c) {
  if (c.input(0).dtype != DType::boolean) throw Error(c.where + ": condition must be bool");
  if (c.input(1).dtype != c.input(2).dtype) throw Error(c.where + ": X and Y have different types");
  Shape s = broadcast_shapes(broadcast_shapes(c.input(0).shape, c.input(1).shape, c.where), c.input(2).shape, c.where);
  return c.one(c.input(1).dtype, s);
}

Outs compare(const Ctx& c) {
  if (c.input(0).dtype != c.input(1).dtype) throw Error(c.where + ": inputs have different types");
  return c.one(DType::boolean, broadcast_shapes(c.input(0).shape, c.input(1).shape, c.where));
}

Outs logical(const Ctx& c) {
  if (c.input(0).dtype != DType::boolean || c.input(1).dtype != DType::boolean)
    throw Error(c.where + ": inputs must be bool");
  return c.one(DType::boolean, broadcast_shapes(c.input(0).shape, c.input(1).shape, c.where));
}

Outs float_test(const Ctx& c) {
  c.expect_float(0);
  return c.one(DType::boolean, c.input(0).shape);
}

Outs not_op(const Ctx& c) {
  if (c.input(0).dtype != DType::boolean) throw Error(c.where + ": input must be bool");
  return c.one(DType::boolean, c.input(0).shape);
}

Outs binary(const Ctx& c) {
  auto& a = c.input(0);
  auto& b = c.input(1);
  if (a.dtype != b.dtype)
    throw Error(c.where + ": inputs have different types " + dtype_name(a.dtype) + " and " + dtype_name(b.dtype));
  if (a.dtype != DType::float32 && a.dtype != DType::int64 && a.dtype != DType::int32)
    throw Error(c.where + ": type " + std::string(dtype_name(a.dtype)) + " is not supported");
  return c.one(a.dtype, broadcast_shapes(a.shape, b.shape, c.where));
}

// Sum, Mean, Max, Min: one or more inputs of one type, broadcast together.
Outs variadic(const Ctx& c) {
  const DType t = c.input(0).dtype;
  if (t != DType::float32 && t != DType::int64 && t != DType::int32)
    throw Error(c.where + ": type " + std::string(dtype_name(t)) + " is not supported");
  Shape s = c.input(0).shape;
  for (size_t k = 1; k < c.in.size(); ++k) {
    if (c.input(k).dtype != t)
      throw Error(c.where + ": inputs have different types " + dtype_name(t) + " and " + dtype_name(c.input(k).dtype));
    s = broadcast_shapes(s, c.input(k).shape, c.where);
  }
  return c.one(t, s);
}

// PRelu: the slope broadcasts to X (one way), and the output is X's shape.
Outs prelu(const Ctx& c) {
  c.expect_float(0);
  c.expect_float(1);
  const Shape& x = c.input(0).shape;
  if (broadcast_shapes(x, c.input(1).shape, c.where) != x)
    throw Error(c.where + ": slope of shape " + shape_str(c.input(1).shape) + " does not broadcast to X's shape " +
                shape_str(x));
  return c.one(DType::float32, x);
}

Outs conv(const Ctx& c) {
  c.expect_float(0);
  c.expect_float(1);
  auto& x = c.input(0).shape;
  auto& w = c.input(1).shape;
  if (x.size() < 3 || x.size() > 5) throw Error(c.where + ": input must be 3-D to 5-D, got " + shape_str(x));
  if (w.size() != x.size()) throw Error(c.where + ": weight " + shape_str(w) + " does not match input " + shape_str(x));
  int64_t group = c.n.attr_i("group", 1);
  if (group <= 0 || x[1] % group != 0 || w[0] % group != 0 || w[1] * group != x[1])
    throw Error(c.where + ": input channels " + std::to_string(x[1]) + ", weight " + shape_str(w) + " and group " +
                std::to_string(group) + " disagree");
  if (c.in.size() > 2 && c.in[2] && c.in[2]->shape != Shape{w[0]})
    throw Error(c.where + ": bias shape " + shape_str(c.in[2]->shape) + " should be [" + std::to_string(w[0]) + "]");
  Shape spatial(x.begin() + 2, x.end()), kernel(w.begin() + 2, w.end());
  if (c.n.has("kernel_shape") && c.n.attr_ints("kernel_shape") != kernel)
    throw Error(c.where + ": kernel_shape disagrees with the weight shape " + shape_str(w));
  auto g = window_geometry(c.n, spatial, kernel, false, c.where);
  Shape out{x[0], w[0]};
  out.insert(out.end(), g.out.begin(), g.out.end());
  return c.one(DType::float32, out);
}

Outs pool(const Ctx& c) {
  c.expect_float(0);
  auto& x = c.input(0).shape;
  if (x.size() < 3) throw Error(c.where + ": input must have spatial dims, got " + shape_str(x));
  if (c.n.outputs.size() > 1) throw Error(c.where + ": the Indices output of MaxPool is not supported");
  if (c.n.attr_i("storage_order", 0) != 0) throw Error(c.where + ": storage_order=1 is not supported");
  if (!c.n.has("kernel_shape")) throw Error(c.where + ": kernel_shape is required");
  Shape spatial(x.begin() + 2, x.end());
  auto g = window_geometry(c.n, spatial, c.n.attr_ints("kernel_shape"), c.n.attr_i("ceil_mode", 0) != 0, c.where);
  Shape out{x[0], x[1]};
  out.insert(out.end(), g.out.begin(), g.out.end());
  return c.one(DType::float32, out);
}

Outs global_pool(const Ctx& c) {
  c.expect_float(0);
  c.expect_rank_at_least(0, 3);
  Shape out = c.input(0).shape;
  std::fill(out.begin() + 2, out.end(), 1);
  return c.one(DType::float32, out);
}

Outs flatten(const Ctx& c) {
  auto& x = c.input(0).shape;
  int64_t r = int64_t(x.size());
  int64_t axis = c.n.attr_i("axis", 1);
  if (axis < -r || axis > r) throw Error(c.where + ": axis " + std::to_string(axis) + " out of range");
  if (axis < 0) axis += r;
  int64_t a = 1, b = 1;
  for (int64_t i = 0; i < r; ++i) (i < axis ? a : b) *= x[size_t(i)];
  return c.one(c.input(0).dtype, {a, b});
}

Outs reshape(const Ctx& c) {
  auto& x = c.input(0).shape;
  auto spec = c.known(1, "shape").as_int64();
  bool allowzero = c.n.attr_i("allowzero", 0) != 0;
  Shape out(spec.size());
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t d = spec[i];
    if (d == 0 && !allowzero) {
      if (i >= x.size()) throw Error(c.where + ": shape has 0 at dim " + std::to_string(i) + " beyond the input rank");
      d = x[i];
    }
    if (d == -1) {
      if (infer_at >= 0) throw Error(c.where + ": shape has more than one -1");
      infer_at = int64_t(i);
      continue;
    }
    if (d < 0) throw Error(c.where + ": shape has invalid dim " + std::to_string(d));
    out[i] = d;
    if (__builtin_mul_overflow(known, d, &known) || known > kMaxTensorElements)
      throw Error(c.where + ": cannot reshape " + shape_str(x) + " to " + shape_str(spec));
  }
  int64_t total = shape_numel(x);
  if (infer_at >= 0) {
    if (known == 0 || total % known != 0)
      throw Error(c.where + ": cannot reshape " + shape_str(x) + " to " + shape_str(spec));
    out[size_t(infer_at)] = total / known;
  } else if (known != total) {
    throw Error(c.where + ": cannot reshape " + shape_str(x) + " (" + std::to_string(total) + " elements) to " +
                shape_str(out));
  }
  return c.one(c.input(0).dtype, out);
}

Outs conv_transpose(const Ctx& c) {
  c.expect_float(0);
  c.expect_float(1);
  const Shape& x = c.input(0).shape;
  const Shape& w = c.input(1).shape;
  if (x.size() < 3 || x.size() > 5 || w.size() != x.size())
    throw Error(c.where + ": input " + shape_str(x) + " and weight " + shape_str(w) + " must be 3-D to 5-D alike");
  const int64_t group = c.n.attr_i("group", 1);
  if (group <= 0 || w[0] != x[1] || x[1] % group != 0)
    throw Error(c.where + ": weight " + shape_str(w) + " does not match " + std::to_string(x[1]) + " input channels");
  const int64_t oc = w[1] * group;
  if (c.in.size() > 2 && c.in[2] && c.in[2]->shape != Shape{oc})
    throw Error(c.where + ": bias must have shape [" + std::to_string(oc) + "]");
  auto g = conv_transpose_geometry(c.n, Shape(x.begin() + 2, x.end()), Shape(w.begin() + 2, w.end()), c.where);
  Shape out{x[0], oc};
  out.insert(out.end(), g.out.begin(), g.out.end());
  return c.one(DType::float32, out);
}

Outs matmul(const Ctx& c);

// normrt.FusedConv: Conv, plus Z (input 3) of the output's shape or broadcast to it.
Outs fused_conv(const Ctx& c) {
  Ins conv_in(c.in.begin(), c.in.begin() + std::min<size_t>(3, c.in.size()));
  Outs o = conv(Ctx{c.n, conv_in, c.opset, c.where});
  if (c.in.size() > 3 && c.in[3] && broadcast_shapes(o[0].shape, c.in[3]->shape, c.where) != o[0].shape)
    throw Error(c.where + ": the added tensor " + shape_str(c.in[3]->shape) + " does not broadcast to " +
                shape_str(o[0].shape));
  return o;
}

// normrt.FusedMatMul: MatMul of A and B, each transposed first when it has
// perm_a / perm_b (transB: B given as [N, K]), times alpha, plus a bias of N,
// then an activation; perm_y transposes the result.
Outs fused_matmul(const Ctx& c) {
  c.expect_float(0);
  c.expect_float(1);
  auto maybe_permuted = [&](const char* attr, const Shape& s) {
    return c.n.has(attr) ? permuted(s, permutation(c.n, attr, s.size(), c.where)) : s;
  };
  Shape b = maybe_permuted("perm_b", c.input(1).shape);
  if (c.n.attr_i("transB", 0)) {
    if (b.size() != 2) throw Error(c.where + ": transB needs a 2-D B");
    std::swap(b[0], b[1]);
  }
  ValueInfo at{DType::float32, maybe_permuted("perm_a", c.input(0).shape), nullptr}, bt{DType::float32, b, nullptr};
  Ins mm_in{&at, &bt};
  Outs o = matmul(Ctx{c.n, mm_in, c.opset, c.where});
  o[0].shape = maybe_permuted("perm_y", o[0].shape);
  return o;
}

Outs gemm(const Ctx& c) {
  c.expect_float(0);
  c.expect_float(1);
  auto& a = c.input(0).shape;
  auto& b = c.input(1).shape;
  if (a.size() != 2 || b.size() != 2) throw Error(c.where + ": A and B must be 2-D, got " + shape_str(a) + ", " + shape_str(b));
  bool ta = c.n.attr_i("transA", 0), tb = c.n.attr_i("transB", 0);
  int64_t M = ta ? a[1] : a[0], K = ta ? a[0] : a[1];
  int64_t Kb = tb ? b[1] : b[0], N = tb ? b[0] : b[1];
  if (K != Kb) throw Error(c.where + ": A " + shape_str(a) + " and B " + shape_str(b) + " do not multiply");
  if (c.in.size() > 2 && c.in[2]) {
    Shape bc = broadcast_shapes(c.in[2]->shape, {M, N}, c.where);
    if (bc != Shape{M, N}) throw Error(c.where + ": C " + shape_str(c.in[2]->shape) + " does not broadcast to [M,N]");
  }
  return c.one(DType::float32, {M, N});
}

Outs matmul(const Ctx& c) {
  c.expect_float(0);
  c.expect_float(1);
  Shape a = c.input(0).shape, b = c.input(1).shape;
  if (a.empty() || b.empty()) throw Error(c.where + ": MatMul inputs must not be scalars");
  bool a1 = a.size() == 1, b1 = b.size() == 1;
  if (a1) a.insert(a.begin(), 1);
  if (b1) b.push_back(1);
  if (a.back() != b[b.size() - 2])
    throw Error(c.where + ": shapes " + shape_str(c.input(0).shape) + " and " + shape_str(c.input(1).shape) +
                " do not multiply");
  Shape batch = broadcast_shapes(Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2), c.where);
  Shape out = batch;
  if (!a1) out.push_back(a[a.size() - 2]);
  if (!b1) out.push_back(b.back());
  return c.one(DType::float32, out);
}

Outs softmax(const Ctx& c) {
  c.expect_float(0);
  int64_t r = int64_t(c.input(0).shape.size());
  normalize_axis(c.n.attr_i("axis", c.opset >= 13 ? -1 : 1), std::max<int64_t>(r, 1), c.where);
  return c.one(DType::float32, c.input(0).shape);
}

// normrt.AddSoftmax: softmax over the last axis of a + b (broadcast).
Outs add_softmax(const Ctx& c) {
  c.expect_float(0);
  c.expect_float(1);
  Shape out = broadcast_shapes(c.input(0).shape, c.input(1).shape, c.where);
  if (out.empty()) throw Error(c.where + ": Softmax of a scalar is not supported");
  return c.one(DType::float32, out);
}

Outs concat(const Ctx& c) {
  auto& first = c.input(0);
  int64_t r = int64_t(first.shape.size());
  if (!c.n.has("axis")) throw Error(c.where + ": axis is required");
  int64_t axis = normalize_axis(c.n.attr_i("axis", 0), r, c.where);
  Shape out = first.shape;
  out[size_t(axis)] = 0;
  for (size_t k = 0; k < c.in.size(); ++k) {
    auto& v = c.input(k);
    if (v.dtype != first.dtype) throw Error(c.where + ": inputs have different types");
    if (int64_t(v.shape.size()) != r) throw Error(c.where + ": inputs have different ranks");
    for (int64_t i = 0; i < r; ++i)
      if (i != axis && v.shape[size_t(i)] != first.shape[size_t(i)])
        throw Error(c.where + ": input " + std::to_string(k) + " shape " + shape_str(v.shape) + " does not match " +
                    shape_str(first.shape) + " outside axis " + std::to_string(axis));
    out[size_t(axis)] += v.shape[size_t(axis)];
  }
  return c.one(first.dtype, out);
}

Outs shape_op(const Ctx& c) {
  auto& x = c.input(0).shape;
  int64_t r = int64_t(x.size());
  int64_t start = c.n.attr_i("start", 0), end = c.n.attr_i("end", r);
  auto clampi = [r](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + r : v, 0, r); };
  start = clampi(start);
  end = std::max(start, clampi(end));
  Outs o = c.one(DType::int64, {end - start});
  auto t = std::make_shared<Tensor>(DType::int64, Shape{end - start});
  for (int64_t i = start; i < end; ++i) t->data<int64_t>()[i - start] = x[size_t(i)];
  o[0].value = t;
  return o;
}

Outs gather(const Ctx& c) {
  auto& x = c.input(0).shape;
  auto& idx = c.input(1);
  if (idx.dtype != DType::int64 && idx.dtype != DType::int32) throw Error(c.where + ": indices must be int32 or int64");
  if (x.empty()) throw Error(c.where + ": data must not be a scalar");
  int64_t axis = normalize_axis(c.n.attr_i("axis", 0), int64_t(x.size()), c.where);
  Shape out(x.begin(), x.begin() + axis);
  out.insert(out.end(), idx.shape.begin(), idx.shape.end());
  out.insert(out.end(), x.begin() + axis + 1, x.end());
  return c.one(c.input(0).dtype, out);
}

std::vector<int64_t> axes_of(const Ctx& c, bool required) {
  if (c.opset >= 13) {
    if (c.in.size() > 1 && c.in[1]) return c.known(1, "axes").as_int64();
    if (required) throw Error(c.where + ": axes input is required");
    return {};
  }
  if (required && !c.n.has("axes")) throw Error(c.where + ": axes attribute is required");
  return c.n.attr_ints("axes");
}

Outs unsqueeze(const Ctx& c) {
  auto axes = axes_of(c, true);
  Shape x = c.input(0).shape;
  int64_t r = int64_t(x.size() + axes.size());
  std::vector<bool> is_new(size_t(r), false);
  for (int64_t a : axes) {
    a = normalize_axis(a, r, c.where);
    if (is_new[size_t(a)]) throw Error(c.where + ": repeated axis");
    is_new[size_t(a)] = true;
  }
  Shape out;
  size_t k = 0;
  for (int64_t i = 0; i < r; ++i) out.push_back(is_new[size_t(i)] ? 1 : x[k++]);
  return c.one(c.input(0).dtype, out);
}

Outs squeeze(const Ctx& c) {
  auto axes = axes_of(c, false);
  Shape x = c.input(0).shape;
  int64_t r = int64_t(x.size());
  std::vector<bool> drop(size_t(r), false);
  if (axes.empty()) {
    for (int64_t i = 0; i < r; ++i) drop[size_t(i)] = x[size_t(i)] == 1;
  } else {
    for (int64_t a : axes) {
      a = normalize_axis(a, r, c.where);
      if (x[size_t(a)] != 1) throw Error(c.where + ": cannot squeeze axis " + std::to_string(a) + " of size " + std::to_string(x[size_t(a)]));
      drop[size_t(a)] = true;
    }
  }
  Shape out;
  for (int64_t i = 0; i < r; ++i)
    if (!drop[size_t(i)]) out.push_back(x[size_t(i)]);
  return c.one(c.input(0).dtype, out);
}

Outs clip(const Ctx& c) {
  for (size_t k = 1; k < c.in.size(); ++k)
    if (c.in[k] && !c.in[k]->shape.empty()) throw Error(c.where + ": min and max must be scalars");
  return same_as_input(c);
}

// libonnx's interned name of a tensor of `t` ("tensor(float)"); plan time only.
onnx::DataType onnx_type_of(DType t) {
  onnx::TypeProto p;
  p.mutable_tensor_type()->set_elem_type(int32_t(t));
  return onnx::Utils::DataTypeUtils::ToType(p);
}

// Against the op's schema: inputs that share a type parameter (T for A, B
// and C of Gemm) have one dtype, and each dtype is one the schema allows.
// Kernels read their inputs as the type the schema promises.
void check_input_types(const Node& n, const Ins& in, int64_t opset, const std::string& where) {
  const auto [schema, exact] = schema_of(n, opset);
  if (!schema || !exact || schema->inputs().empty()) return;
  std::map<std::string, size_t> first;  // type parameter -> first input of it
  for (size_t k = 0; k < in.size(); ++k) {
    if (!in[k]) continue;
    const auto& f = formal_input(*schema, k);
    if (!f.GetTypes().count(onnx_type_of(in[k]->dtype)))
      throw Error(where + ": input " + std::to_string(k) + " (" + f.GetName() + ") of " + n.op_type + " cannot be " +
                  dtype_name(in[k]->dtype));
    auto [it, fresh] = first.emplace(f.GetTypeStr(), k);
    if (!fresh && f.GetIsHomogeneous() && in[it->second]->dtype != in[k]->dtype)
      throw Error(where + ": inputs " + std::to_string(it->second) + " and " + std::to_string(k) + " of " + n.op_type +
                  " must have one type (" + f.GetTypeStr() + "), not " + dtype_name(in[it->second]->dtype) + " and " +
                  dtype_name(in[k]->dtype));
  }
}

using ShapeFn = Outs (*)(const Ctx&);
const std::unordered_map<std::string, ShapeFn>& shape_functions() {
  static const std::unordered_map<std::string, ShapeFn> fns = {
      {"Relu", same_as_input},        {"LeakyRelu", same_as_input}, {"Sigmoid", same_as_input},
      {"HardSigmoid", same_as_input}, {"HardSwish", same_as_input}, {"Clip", clip},
      {"Identity", identity},         {"Dropout", dropout},         {"BatchNormalization", batch_norm},
      {"Add", binary},                {"Sub", binary},              {"Mul", binary},
      {"Div", binary},                {"Conv", conv},               {"MaxPool", pool},
      {"AveragePool", pool},          {"GlobalAveragePool", global_pool}, {"GlobalMaxPool", global_pool},
      {"Flatten", flatten},           {"Reshape", reshape},         {"Gemm", gemm},
      {"MatMul", matmul},             {"Softmax", softmax},         {"Concat", concat},
      {"Shape", shape_op},            {"Gather", gather},           {"Unsqueeze", unsqueeze},
      {"Squeeze", squeeze},           {"LayerNormalization", layer_norm}, {"RMSNormalization", layer_norm},
      {"AddLayerNormalization", layer_norm}, {"InstanceNormalization", instance_norm},
      {"Sqrt", same_as_input},        {"Reciprocal", same_as_input}, {"Neg", same_as_input},
      {"Abs", same_as_input},         {"Exp", same_as_input},       {"Tanh", same_as_input},
      {"Erf", same_as_input},         {"Gelu", same_as_input},      {"Pow", pow_op},
      {"ReduceMean", reduce},         {"ReduceSum", reduce},        {"ReduceMax", reduce},
      {"ReduceMin", reduce},          {"Transpose", transpose},     {"Cast", cast},
      {"Slice", slice},               {"ConstantOfShape", constant_of_shape}, {"Expand", expand},
      {"Split", split},               {"Range", range},             {"Where", where},
      {"Equal", compare},             {"Less", compare},            {"Greater", compare},
      {"Not", not_op},                {"LogSoftmax", softmax},      {"FusedConv", fused_conv},
      {"FusedMatMul", fused_matmul},   {"ConvTranspose", conv_transpose}, {"AddSoftmax", add_softmax},
      {"Log", same_as_input},         {"Floor", same_as_input},     {"Ceil", same_as_input},
      {"Round", same_as_input},       {"Sign", same_as_input},      {"Sin", same_as_input},
      {"Cos", same_as_input},         {"Softplus", same_as_input},  {"Softsign", same_as_input},
      {"Elu", same_as_input},         {"Selu", same_as_input},      {"Celu", same_as_input},
      {"ThresholdedRelu", same_as_input}, {"Mish", same_as_input},
      {"Tan", same_as_input},         {"Asin", same_as_input},      {"Acos", same_as_input},
      {"Atan", same_as_input},        {"Sinh", same_as_input},      {"Cosh", same_as_input},
      {"Asinh", same_as_input},       {"Acosh", same_as_input},     {"Atanh", same_as_input},
      {"Max", variadic},              {"Min", variadic},            {"PRelu", prelu},
      {"Sum", variadic},              {"Mean", variadic},           {"Mod", binary},
      {"Pad", pad},                   {"Resize", resize},           {"Upsample", upsample},
      {"ReduceProd", reduce},         {"ReduceL1", reduce},         {"ReduceL2", reduce},
      {"ReduceSumSquare", reduce},    {"ReduceLogSum", reduce},     {"ReduceLogSumExp", reduce},
      {"ArgMax", arg_reduce},         {"ArgMin", arg_reduce},       {"Tile", tile},
      {"LessOrEqual", compare},       {"GreaterOrEqual", compare},  {"And", logical},
      {"Or", logical},                {"Xor", logical},             {"IsNaN", float_test},
      {"IsInf", float_test},
      {"TopK", top_k},                {"Hardmax", same_as_input},   {"Size", size_op},
      {"Shrink", same_as_input},      {"ScatterElements", scatter}, {"ScatterND", scatter},
      {"OneHot", one_hot},            {"LRN", same_as_input},       {"MeanVarianceNormalization", same_as_input},
      {"ReverseSequence", reverse_sequence},
      {"Einsum", einsum},             {"LSTM", recurrent},
      {"GatherND", gather_nd},        {"EyeLike", eye_like},        {"GridSample", grid_sample},
      {"CastLike", [](const Ctx& c) { return c.one(c.input(1).dtype, c.input(0).shape); }},            {"GRU", recurrent},           {"RNN", recurrent},
      {"Trilu", trilu},               {"GatherElements", gather_elements}, {"CumSum", cumsum},
      {"DepthToSpace", [](const Ctx& c) { return depth_space(c, true); }},
      {"SpaceToDepth", [](const Ctx& c) { return depth_space(c, false); }},
  };
  return fns;
}

}  // namespace

Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& where) {
  size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      throw Error(where + ": shapes " + shape_str(a) + " and " + shape_str(b) + " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

bool shape_depends_on_value(const Node& n, size_t k) {
  const std::string& op = n.op_type;
  if (op == "Slice") return k >= 1;
  if (op == "Pad") return k == 1 || k == 3;  // pads and axes; the constant value is read at run time
  if (op == "Resize") return k == 2 || k == 3;  // scales and sizes
  if (op == "Upsample") return k == 1;
  if (op == "Tile" || op == "TopK" || op == "OneHot") return k == 1;
  if (op == "ConstantOfShape" || op == "Range") return true;
  return k == 1 && (op == "Reshape" || op == "Squeeze" || op == "Unsqueeze" || op.rfind("Reduce", 0) == 0 ||
                    op == "Expand" || op == "Split");
}

bool has_shape_function(const std::string& op_type) { return shape_functions().count(op_type) != 0; }

std::vector<ValueInfo> infer_node(const Node& n, const Ins& in, int64_t opset, const std::string& where) {
  auto it = shape_functions().find(n.op_type);
  if (it == shape_functions().end()) throw Error(where + ": no shape inference for op " + n.op_type);
  check_input_types(n, in, opset, where);
  Ctx c{n, in, opset, where};
  Outs o = it->second(c);
  if (o.size() < n.outputs.size()) throw Error(where + ": too many outputs (" + std::to_string(n.outputs.size()) + ")");
  o.resize(n.outputs.size());
  for (const auto& v : o) checked_numel(v.shape, where);
  return o;
}

std::vector<SliceDim> slice_node_dims(const Node& n, const std::vector<const ValueInfo*>& in, int64_t opset,
                                      const std::string& where) {
  std::vector<int64_t> starts, ends, axes, steps;
  auto ints = [&](size_t k, const char* what, bool required) {
    if (k >= in.size() || !in[k]) {
      if (required) throw Error(where + ": required input " + std::to_string(k) + " is missing");
      return std::vector<int64_t>{};
    }
    if (!in[k]->value)
      throw Error(where + ": input '" + n.inputs[k] + "' (" + what +
                  ") must be known before running (a constant or computed from input shapes)");
    return in[k]->value->as_int64();
  };
  if (opset < 10) {
    starts = n.attr_ints("starts");
    ends = n.attr_ints("ends");
    axes = n.attr_ints("axes");
  } else {
    starts = ints(1, "starts", true);
    ends = ints(2, "ends", true);
    axes = ints(3, "axes", false);
    steps = ints(4, "steps", false);
  }
  if (in.empty() || !in[0]) throw Error(where + ": required input 0 is missing");
  return slice_dims(in[0]->shape, starts, ends, axes, steps, where);
}

}  // namespace normrt
