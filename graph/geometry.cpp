#include "graph/geometry.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

namespace normrt {

Shape permutation(const Node& n, const char* attr, size_t rank, const std::string& where) {
  Shape perm = n.attr_ints(attr);
  if (!n.has(attr))
    for (size_t i = 0; i < rank; ++i) perm.push_back(int64_t(rank - 1 - i));
  if (perm.size() != rank)
    throw Error(where + ": " + attr + " has " + std::to_string(perm.size()) + " entries for rank " + std::to_string(rank));
  std::vector<bool> used(rank, false);
  for (int64_t& p : perm) {
    p = normalize_axis(p, int64_t(rank), where);
    if (used[size_t(p)]) throw Error(where + ": " + attr + " repeats an axis");
    used[size_t(p)] = true;
  }
  return perm;
}

Shape permuted(const Shape& x, const Shape& perm) {
  Shape out;
  for (int64_t p : perm) out.push_back(x[size_t(p)]);
  return out;
}

int64_t normalize_axis(int64_t axis, int64_t rank, const std::string& where) {
  if (axis < -rank || axis >= rank)
    throw Error(where + ": axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

namespace {

// The attributes every windowed op shares (strides, dilations, pads), checked;
// `out` is left to the caller.
WindowGeometry window_attributes(const Node& n, const Shape& in, const Shape& kernel, const std::string& where) {
  const size_t r = in.size();
  WindowGeometry g;
  g.in = in;
  g.kernel = kernel;
  g.strides = n.attr_ints("strides", Shape(r, 1));
  g.dilations = n.attr_ints("dilations", Shape(r, 1));
  Shape pads = n.attr_ints("pads", Shape(2 * r, 0));
  if (g.kernel.size() != r || g.strides.size() != r || g.dilations.size() != r || pads.size() != 2 * r)
    throw Error(where + ": kernel_shape/strides/dilations/pads do not match the " + std::to_string(r) +
                " spatial dims of the input");
  // Far above any real model, and low enough that no geometry sum overflows.
  constexpr int64_t kMaxWindow = int64_t(1) << 24;
  for (size_t i = 0; i < r; ++i) {
    if (g.kernel[i] <= 0 || g.strides[i] <= 0 || g.dilations[i] <= 0)
      throw Error(where + ": kernel sizes, strides and dilations must be positive");
    if (pads[i] < 0 || pads[i + r] < 0) throw Error(where + ": negative pads are not supported");
    for (int64_t v : {g.kernel[i], g.strides[i], g.dilations[i], pads[i], pads[i + r]})
      if (v > kMaxWindow) throw Error(where + ": kernel sizes, strides, dilations and pads above 2^24 are not supported");
  }
  g.pad_begin.assign(pads.begin(), pads.begin() + r);
  g.pad_end.assign(pads.begin() + r, pads.end());
  g.out.resize(r);
  return g;
}

}  // namespace

WindowGeometry window_geometry(const Node& n, const Shape& in, const Shape& kernel, bool ceil_mode,
                               const std::string& where) {
  const size_t r = in.size();
  WindowGeometry g = window_attributes(n, in, kernel, where);
  const std::string auto_pad = n.attr_s("auto_pad", "NOTSET");
  for (size_t i = 0; i < r; ++i) {
    int64_t span = (g.kernel[i] - 1) * g.dilations[i] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      int64_t out = (in[i] + g.strides[i] - 1) / g.strides[i];
      int64_t total = std::max<int64_t>(0, (out - 1) * g.strides[i] + span - in[i]);
      g.pad_begin[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.pad_end[i] = total - g.pad_begin[i];
    } else if (auto_pad == "VALID") {
      g.pad_begin[i] = g.pad_end[i] = 0;
    } else if (auto_pad != "NOTSET") {
      throw Error(where + ": unknown auto_pad '" + auto_pad + "'");
    }
    int64_t room = in[i] + g.pad_begin[i] + g.pad_end[i] - span;
    if (room < 0) throw Error(where + ": the window (" + std::to_string(span) + ") is larger than the padded input");
    int64_t out = ceil_mode ? (room + g.strides[i] - 1) / g.strides[i] + 1 : room / g.strides[i] + 1;
    // A last window that would start in the right padding is dropped (as PyTorch does).
    if (ceil_mode && (out - 1) * g.strides[i] >= in[i] + g.pad_begin[i]) --out;
    g.out[i] = out;
  }
  return g;
}

WindowGeometry conv_transpose_geometry(const Node& n, const Shape& in, const Shape& kernel, const std::string& where) {
  const size_t r = in.size();
  WindowGeometry g = window_attributes(n, in, kernel, where);
  const Shape out_pad = n.attr_ints("output_padding", Shape(r, 0)), out_shape = n.attr_ints("output_shape");
  if (out_pad.size() != r || (!out_shape.empty() && out_shape.size() != r))
    throw Error(where + ": output_padding/output_shape do not match the spatial dims");
  const std::string auto_pad = n.attr_s("auto_pad", "NOTSET");
  for (size_t i = 0; i < r; ++i) {
    if (out_pad[i] < 0 || out_pad[i] >= std::max(g.strides[i], g.dilations[i]))
      throw Error(where + ": output_padding must be at least 0 and below the stride or the dilation");
    if (!out_shape.empty() && (out_shape[i] <= 0 || out_shape[i] > kMaxTensorElements))
      throw Error(where + ": output_shape " + shape_str(out_shape) + " is out of range");
    const int64_t span = (g.kernel[i] - 1) * g.dilations[i] + 1, full = g.strides[i] * (in[i] - 1) + out_pad[i] + span;
    int64_t total;
    if (!out_shape.empty() || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t want = !out_shape.empty() ? out_shape[i] : in[i] * g.strides[i];
      total = full - want;
      const bool upper = auto_pad == "SAME_UPPER";
      // A larger output than the strides give grows at the end, like output_padding.
      g.pad_begin[i] = total < 0 ? 0 : upper ? total / 2 : total - total / 2;
      g.pad_end[i] = total - g.pad_begin[i];
    } else if (auto_pad == "VALID") {
      g.pad_begin[i] = g.pad_end[i] = 0;
    }
    g.out[i] = full - g.pad_begin[i] - g.pad_end[i];
    if (g.out[i] <= 0) throw Error(where + ": the output would be empty");
    g.pad_end[i] -= out_pad[i];  // output_padding extends the end
  }
  return g;
}

std::vector<SliceDim> slice_dims(const Shape& x, std::vector<int64_t> starts, std::vector<int64_t> ends,
                                 std::vector<int64_t> axes, std::vector<int64_t> steps, const std::string& where) {
  const int64_t r = int64_t(x.size());
  std::vector<SliceDim> dims(x.size());
  for (size_t i = 0; i < x.size(); ++i) dims[i] = SliceDim{0, 1, x[i]};
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(int64_t(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (starts.size() != ends.size() || axes.size() != starts.size() || steps.size() != starts.size())
    throw Error(where + ": starts, ends, axes and steps must have the same length");
  std::vector<bool> seen(x.size(), false);
  for (size_t k = 0; k < axes.size(); ++k) {
    const int64_t a = normalize_axis(axes[k], r, where);
    if (seen[size_t(a)]) throw Error(where + ": repeated axis");
    seen[size_t(a)] = true;
    const int64_t d = x[size_t(a)], step = steps[k];
    if (step == 0) throw Error(where + ": a step is 0");
    auto clampv = [](int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; };
    int64_t b = starts[k], e = ends[k];
    if (b < 0) b += d;
    if (e < 0) e += d;
    if (step > 0) {
      b = clampv(b, 0, d);
      e = clampv(e, 0, d);
    } else {
      b = clampv(b, 0, d - 1);
      e = clampv(e, -1, d - 1);
    }
    // Ends like INT64_MAX or -INT64_MAX arrive clamped above, and the
    // rounding up is done after the division: no overflow below, whatever the step.
    int64_t count = 0;
    if (step > 0 && e > b) count = (e - b - 1) / step + 1;
    if (step < 0 && b > e) count = step == std::numeric_limits<int64_t>::min() ? 1 : (b - e - 1) / -step + 1;
    // One element (or none) makes the step moot: 1, so step * stride cannot overflow.
    dims[size_t(a)] = SliceDim{b, count > 1 ? step : 1, count};
  }
  return dims;
}

PadDims pad_dims(const Shape& x, const std::vector<int64_t>& pads, std::vector<int64_t> axes, const std::string& mode,
                 const std::string& where) {
  if (mode != "constant" && mode != "reflect" && mode != "edge")
    throw Error(where + ": unknown Pad mode '" + mode + "'");
  const int64_t rank = int64_t(x.size());
  if (axes.empty())
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  if (pads.size() != 2 * axes.size())
    throw Error(where + ": pads has " + std::to_string(pads.size()) + " values for " + std::to_string(axes.size()) +
                " axes (needs two per axis)");
  PadDims p{Shape(x.size(), 0), Shape(x.size(), 0), x};
  std::vector<bool> seen(x.size(), false);
  for (size_t k = 0; k < axes.size(); ++k) {
    const size_t a = size_t(normalize_axis(axes[k], rank, where));
    if (seen[a]) throw Error(where + ": axis " + std::to_string(a) + " is given twice");
    seen[a] = true;
    const int64_t b = pads[k], e = pads[k + axes.size()], d = x[a];
    if (b > kMaxTensorElements || e > kMaxTensorElements)  // (and so d + b + e cannot overflow)
      throw Error(where + ": pads " + std::to_string(b) + ", " + std::to_string(e) + " make dim " + std::to_string(a) +
                  " too large to count");
    if (b < -d || e < -d || d + b + e < 0)
      throw Error(where + ": pads " + std::to_string(b) + ", " + std::to_string(e) + " leave dim " + std::to_string(a) +
                  " (" + std::to_string(d) + ") negative");
    if ((b > 0 || e > 0) && d == 0 && mode != "constant")
      throw Error(where + ": " + mode + " padding of the empty dim " + std::to_string(a));
    if (mode == "reflect" && (b >= d || e >= d) && (b > 0 || e > 0))
      throw Error(where + ": reflect pads " + std::to_string(b) + ", " + std::to_string(e) + " must be below dim " +
                  std::to_string(a) + " (" + std::to_string(d) + ")");
    p.begin[a] = b;
    p.end[a] = e;
    p.out[a] = d + b + e;
  }
  return p;
}

ResizeDims resize_dims(const Shape& x, const std::vector<float>& scales, const std::vector<int64_t>& sizes,
                       std::vector<int64_t> axes, const std::string& where) {
  const int64_t rank = int64_t(x.size());
  if (scales.empty() == sizes.empty())
    throw Error(where + ": Resize needs exactly one of scales and sizes");
  if (axes.empty())
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  const size_t given = scales.empty() ? sizes.size() : scales.size();
  if (given != axes.size())
    throw Error(where + ": " + (scales.empty() ? "sizes" : "scales") + " has " + std::to_string(given) +
                " values for " + std::to_string(axes.size()) + " axes");
  ResizeDims r{x, std::vector<double>(x.size(), 1.0)};
  std::vector<bool> seen(x.size(), false);
  for (size_t k = 0; k < axes.size(); ++k) {
    const size_t a = size_t(normalize_axis(axes[k], rank, where));
    if (seen[a]) throw Error(where + ": axis " + std::to_string(a) + " is given twice");
    seen[a] = true;
    if (!scales.empty()) {
      const float s = scales[k];
      if (!(s > 0.f) || !(double(s) * double(x[a]) < 1e12))
        throw Error(where + ": scale " + std::to_string(s) + " for dim " + std::to_string(a) + " is not a positive size");
      r.scale[a] = double(s);
      r.out[a] = int64_t(std::floor(double(s) * double(x[a])));
    } else {
      if (sizes[k] < 0) throw Error(where + ": negative size " + std::to_string(sizes[k]) + " for dim " + std::to_string(a));
      if (x[a] == 0 && sizes[k] != 0) throw Error(where + ": cannot resize the empty dim " + std::to_string(a));
      r.out[a] = sizes[k];
      r.scale[a] = x[a] ? double(sizes[k]) / double(x[a]) : 1.0;
    }
  }
  return r;
}

Shape EinsumLabels::out_shape() const {
  Shape s;
  for (int l : out) s.push_back(dims.at(l));
  return s;
}

EinsumLabels einsum_labels(const std::string& equation, const std::vector<Shape>& inputs, const std::string& where) {
  auto fail = [&](const std::string& why) -> void { throw Error(where + ": equation '" + equation + "': " + why); };
  std::string eq;
  for (char ch : equation)
    if (ch != ' ') eq += ch;
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  // Terms as written, "..." kept as one '.' each.
  auto split_term = [&](const std::string& t) {
    std::string r;
    for (size_t i = 0; i < t.size(); ++i) {
      if (std::isalpha(static_cast<unsigned char>(t[i]))) {
        r += t[i];
      } else if (t.compare(i, 3, "...") == 0) {
        if (r.find('.') != std::string::npos) fail("more than one ellipsis in a term");
        r += '.';
        i += 2;
      } else {
        fail(std::string("unexpected character '") + t[i] + "'");
      }
    }
    return r;
  };
  std::vector<std::string> terms;
  for (size_t b = 0;;) {
    const size_t e = lhs.find(',', b);
    terms.push_back(split_term(lhs.substr(b, e == std::string::npos ? std::string::npos : e - b)));
    if (e == std::string::npos) break;
    b = e + 1;
  }
  if (terms.size() != inputs.size())
    fail(std::to_string(terms.size()) + " terms for " + std::to_string(inputs.size()) + " inputs");
  EinsumLabels r;
  size_t ellipsis_rank = 0;
  for (size_t k = 0; k < terms.size(); ++k) {
    const size_t letters = terms[k].size() - (terms[k].find('.') != std::string::npos);
    const bool has_ellipsis = letters != terms[k].size();
    if (inputs[k].size() < letters || (!has_ellipsis && inputs[k].size() != letters))
      fail("term " + std::to_string(k) + " has " + std::to_string(letters) + " indices for an input of rank " +
           std::to_string(inputs[k].size()));
    ellipsis_rank = std::max(ellipsis_rank, inputs[k].size() - letters);
  }
  auto merge = [&](int label, int64_t d) {
    auto [it, fresh] = r.dims.emplace(label, d);
    if (fresh || it->second == d || d == 1) return;
    if (it->second == 1) it->second = d;
    else fail("index '" + (label < kEllipsisLabel ? std::string(1, char(label)) : "...") + "' is " +
              std::to_string(it->second) + " in one place and " + std::to_string(d) + " in another");
  };
  for (size_t k = 0; k < terms.size(); ++k) {
    std::vector<int> labels;
    const size_t e = inputs[k].size() - (terms[k].size() - (terms[k].find('.') != std::string::npos));
    for (char ch : terms[k]) {
      if (ch != '.') {
        labels.push_back(int(static_cast<unsigned char>(ch)));
        continue;
      }
      for (size_t j = 0; j < e; ++j) labels.push_back(kEllipsisLabel + int(ellipsis_rank - e + j));
    }
    for (size_t a = 0; a < labels.size(); ++a) {
      for (size_t b = 0; b < a; ++b)  // a diagonal: no broadcasting within one term
        if (labels[b] == labels[a] && inputs[k][b] != inputs[k][a])
          fail("term " + std::to_string(k) + " takes a diagonal of dims " + std::to_string(inputs[k][b]) + " and " +
               std::to_string(inputs[k][a]));
      merge(labels[a], inputs[k][a]);
    }
    r.terms.push_back(std::move(labels));
  }
  if (arrow == std::string::npos) {
    for (size_t j = 0; j < ellipsis_rank; ++j) r.out.push_back(kEllipsisLabel + int(j));
    std::map<int, int> count;
    for (auto& t : terms)
      for (char ch : t)
        if (ch != '.') ++count[int(static_cast<unsigned char>(ch))];
    for (auto [label, n] : count)
      if (n == 1) r.out.push_back(label);
  } else {
    const std::string out = split_term(eq.substr(arrow + 2));
    for (char ch : out) {
      if (ch == '.') {
        for (size_t j = 0; j < ellipsis_rank; ++j) r.out.push_back(kEllipsisLabel + int(j));
        continue;
      }
      const int label = int(static_cast<unsigned char>(ch));
      if (!r.dims.count(label)) fail(std::string("output index '") + ch + "' is in no input");
      if (std::count(r.out.begin(), r.out.end(), label)) fail(std::string("output index '") + ch + "' is repeated");
      r.out.push_back(label);
    }
  }
  return r;
}

}  // namespace normrt
