#include "graph/geometry.h"

namespace normrt {

int64_t normalize_axis(int64_t axis, int64_t rank, const std::string& where) {
  if (axis < -rank || axis >= rank)
    throw Error(where + ": axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

WindowGeometry window_geometry(const Node& n, const Shape& in, const Shape& kernel, bool ceil_mode,
                               const std::string& where) {
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
  for (size_t i = 0; i < r; ++i) {
    if (g.kernel[i] <= 0 || g.strides[i] <= 0 || g.dilations[i] <= 0)
      throw Error(where + ": kernel sizes, strides and dilations must be positive");
    if (pads[i] < 0 || pads[i + r] < 0) throw Error(where + ": negative pads are not supported");
  }
  std::string auto_pad = n.attr_s("auto_pad", "NOTSET");
  g.pad_begin.assign(pads.begin(), pads.begin() + r);
  g.pad_end.assign(pads.begin() + r, pads.end());
  g.out.resize(r);
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

}  // namespace normrt
