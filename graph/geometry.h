#pragma once
// Window geometry shared by Conv and the pooling ops: output sizes and pads
// from kernel, strides, dilations, pads / auto_pad and ceil_mode.
#include <map>

#include "graph/ir.h"

namespace normrt {

struct WindowGeometry {
  Shape in, kernel, strides, dilations, pad_begin, pad_end, out;  // spatial dims only
};

// `in` and `kernel` are the spatial dims; throws naming `where` on bad attributes.
WindowGeometry window_geometry(const Node& n, const Shape& in, const Shape& kernel, bool ceil_mode,
                               const std::string& where);

// Axis in [-rank, rank) (or [-rank-1, rank] when `extra` for Unsqueeze) to [0, rank).
int64_t normalize_axis(int64_t axis, int64_t rank, const std::string& where);

// A node's permutation attribute `attr` for an input of `rank` dims, each
// axis in [0, rank) once; absent means reversed (Transpose's default).
Shape permutation(const Node& n, const char* attr, size_t rank, const std::string& where);
Shape permuted(const Shape& x, const Shape& perm);

// ConvTranspose: output sizes and pads (pad_end absorbs output_padding, so it
// may be negative) from the attributes, as the ONNX operator defines them.
WindowGeometry conv_transpose_geometry(const Node& n, const Shape& in, const Shape& kernel, const std::string& where);

// Slice: for every dim of the input, the first index, the step and the count.
struct SliceDim {
  int64_t start = 0, step = 1, count = 0;
};
std::vector<SliceDim> slice_dims(const Shape& x, std::vector<int64_t> starts, std::vector<int64_t> ends,
                                 std::vector<int64_t> axes, std::vector<int64_t> steps, const std::string& where);

// Pad: elements added before and after each dim of x (negative: removed),
// from `pads` ([begins..., ends...] over `axes`, all dims when empty). Checks
// the mode and that no dim ends up negative, and that reflect's pads fit in
// the dim (numpy would reflect again; ONNX asks for at most d - 1).
struct PadDims {
  Shape begin, end, out;
};
PadDims pad_dims(const Shape& x, const std::vector<int64_t>& pads, std::vector<int64_t> axes, const std::string& mode,
                 const std::string& where);

// Resize: the output size of every dim of x, and the scale its coordinates
// map by, from `scales` or `sizes` (one of the two, over `axes` or all dims):
// with scales, floor(d * scale); with sizes, scale = size / d.
struct ResizeDims {
  Shape out;
  std::vector<double> scale;
};
ResizeDims resize_dims(const Shape& x, const std::vector<float>& scales, const std::vector<int64_t>& sizes,
                       std::vector<int64_t> axes, const std::string& where);

// Einsum: each term's labels per axis (letters as their char codes; the dims
// an ellipsis stands for as kEllipsisLabel + k, k counted over the
// broadcast ellipsis dims, right-aligned), the output's labels, and every
// label's dim (a dim of 1 broadcasts against a larger one, as numpy's
// ellipsis dims do). Without "->" the output is the ellipsis dims, then the
// letters used exactly once in alphabetical order.
constexpr int kEllipsisLabel = 256;
struct EinsumLabels {
  std::vector<std::vector<int>> terms;
  std::vector<int> out;
  std::map<int, int64_t> dims;
  Shape out_shape() const;
};
EinsumLabels einsum_labels(const std::string& equation, const std::vector<Shape>& inputs, const std::string& where);

}  // namespace normrt
